//go:build !linux

package lab

import (
	"context"
	"runtime"
)

// RunStorm needs Linux network namespaces: elsewhere it returns an error
// matching flatline.ErrNotSupported.
func RunStorm(context.Context, StormConfig) (*StormResult, error) {
	return nil, &UnsupportedError{Feature: "the storm lab: Linux network namespaces (this is " + runtime.GOOS + ")"}
}
