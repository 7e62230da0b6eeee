//go:build !linux

package topology

import "runtime"

func errPlatform() error {
	return &UnsupportedError{Feature: "Linux network namespaces (this is " + runtime.GOOS + ")"}
}

// Do needs Linux network namespaces; elsewhere it returns an error matching
// ErrNotSupported.
func (n *Namespace) Do(fn func() error) error { return errPlatform() }

// Fd needs Linux network namespaces; elsewhere it returns an error matching
// ErrNotSupported.
func (n *Namespace) Fd() (int, error) { return -1, errPlatform() }

// Sweep needs Linux network namespaces; elsewhere it returns an error
// matching ErrNotSupported.
func Sweep() ([]string, error) { return nil, errPlatform() }
