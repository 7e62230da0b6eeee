//go:build !linux

package flatline

import (
	"runtime"

	"github.com/flatline-dev/flatline/internal/kernel"
)

func readConnInfo(uintptr) (kernel.Conn, error) {
	return kernel.Conn{}, &NotSupportedError{Feature: "TCP_INFO", GOOS: runtime.GOOS}
}
