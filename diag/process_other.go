//go:build !linux

package diag

import (
	"runtime"

	"github.com/flatline-dev/flatline"
)

// Process is a pidfd of a running process; Linux only.
type Process struct{}

// OpenProcess fails with an error matching flatline.ErrNotSupported.
func OpenProcess(int) (*Process, error) {
	return nil, &flatline.NotSupportedError{Feature: "pidfd_getfd", Needs: "Linux 5.6", GOOS: runtime.GOOS}
}

// Socket fails with an error matching flatline.ErrNotSupported.
func (p *Process) Socket(int, uint64) (int, error) {
	return -1, &flatline.NotSupportedError{Feature: "pidfd_getfd", Needs: "Linux 5.6", GOOS: runtime.GOOS}
}

// Close does nothing.
func (p *Process) Close() error { return nil }
