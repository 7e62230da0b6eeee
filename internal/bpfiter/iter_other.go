//go:build !linux

package bpfiter

import (
	"runtime"

	"github.com/flatline-dev/flatline"
)

// Read returns an error matching flatline.ErrNotSupported: the iterator
// needs Linux's BPF.
func Read(flatline.Host) ([]Socket, error) {
	return nil, &flatline.NotSupportedError{Feature: "BPF iterator over TCP sockets", Needs: MinKernel, GOOS: runtime.GOOS}
}
