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

// ReadOwners returns an error matching flatline.ErrNotSupported.
func ReadOwners() ([]Owner, error) {
	return nil, &flatline.NotSupportedError{Feature: "BPF owner iterator", Needs: MinKernel, GOOS: runtime.GOOS}
}

// ReadAll returns an error matching flatline.ErrNotSupported.
func ReadAll(flatline.Host, bool, bool) ([]Socket, []Owner, error) {
	return nil, nil, &flatline.NotSupportedError{Feature: "BPF iterators", Needs: MinKernel, GOOS: runtime.GOOS}
}

// Iter is the opened iterators; there are none here.
type Iter struct{}

// Open returns an error matching flatline.ErrNotSupported.
func Open(flatline.Host, bool, bool) (*Iter, error) {
	return nil, &flatline.NotSupportedError{Feature: "BPF iterators", Needs: MinKernel, GOOS: runtime.GOOS}
}

// Read returns nothing.
func (*Iter) Read() ([]Socket, []Owner, error) { return nil, nil, nil }

// Close does nothing.
func (*Iter) Close() error { return nil }
