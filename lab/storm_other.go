//go:build !linux

package lab

import (
	"context"
	"io"
	"runtime"
)

// RunStorm needs Linux network namespaces: elsewhere it returns an error
// matching flatline.ErrNotSupported.
func RunStorm(context.Context, StormConfig) (*StormResult, error) {
	return nil, &UnsupportedError{Feature: "the storm lab: Linux network namespaces (this is " + runtime.GOOS + ")"}
}

// StormHolderEnv marks a storm holder process (Linux only).
const StormHolderEnv = "FLATLINE_LAB_STORM_HOLDER"

// RunStormHolder needs Linux: elsewhere it returns an error matching
// flatline.ErrNotSupported.
func RunStormHolder(context.Context, io.Reader, io.Writer) error {
	return &UnsupportedError{Feature: "the storm lab's connection holder: Linux network namespaces (this is " + runtime.GOOS + ")"}
}
