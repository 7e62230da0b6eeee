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

// ScanCompact needs Linux, like Scan.
func ScanCompact(context.Context, Options) (*Report, error) {
	return nil, notSupported("socket inspection (inet_diag)")
}

// Watch needs Linux; elsewhere it returns an error matching
// flatline.ErrNotSupported.
func Watch(context.Context, Options, WatchOptions, func(Transition) error) error {
	return notSupported("socket inspection (inet_diag)")
}

// ScanNamespaces needs Linux; elsewhere every namespace's error matches
// flatline.ErrNotSupported.
func ScanNamespaces(_ context.Context, _ Options, paths []string) ([]*Report, []error) {
	errs := make([]error, len(paths))
	for i := range errs {
		errs[i] = notSupported("socket inspection (inet_diag)")
	}
	return make([]*Report, len(paths)), errs
}
