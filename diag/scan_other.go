//go:build !linux

package diag

import (
	"context"
	"runtime"

	"github.com/flatline-dev/flatline"
)

func notSupported(feature string) error {
	return &flatline.NotSupportedError{Feature: feature, GOOS: runtime.GOOS}
}

// Scan needs Linux: inet_diag, /proc and pidfd_getfd. Elsewhere it returns
// an error matching flatline.ErrNotSupported.
func Scan(context.Context, Options) (*Report, error) {
	return nil, notSupported("socket inspection (inet_diag)")
}

// Watch needs Linux; elsewhere it returns an error matching
// flatline.ErrNotSupported.
func Watch(context.Context, Options, WatchOptions, func(Transition) error) error {
	return notSupported("socket inspection (inet_diag)")
}
