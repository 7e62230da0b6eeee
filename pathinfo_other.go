//go:build !linux

package flatline

import "runtime"

func readPath(uintptr) (Path, error) {
	return Path{}, &NotSupportedError{Feature: "TCP_INFO (srtt, rto)", GOOS: runtime.GOOS}
}
