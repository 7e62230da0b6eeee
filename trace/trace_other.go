//go:build !linux

package trace

import (
	"context"
	"runtime"

	"github.com/flatline-dev/flatline"
)

// Tracer reports TCP connections the kernel ends; it exists only on Linux.
type Tracer struct{}

// New returns an error matching flatline.ErrNotSupported: the tracer needs
// Linux's BPF.
func New(Options) (*Tracer, error) {
	return nil, &flatline.NotSupportedError{Feature: "trace (eBPF)", Needs: MinKernel, GOOS: runtime.GOOS}
}

// Read returns ErrClosed.
func (t *Tracer) Read(context.Context) (Event, error) { return Event{}, ErrClosed }

// Lost returns 0.
func (t *Tracer) Lost() (uint64, error) { return 0, nil }

// Close does nothing.
func (t *Tracer) Close() error { return nil }
