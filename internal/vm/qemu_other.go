//go:build !linux

package vm

import (
	"context"
	"errors"
	"time"
)

// Output is what a guest run produced.
type Output struct {
	Stdout, Console []byte
	ExitCode        int
	Release, Accel  string
	Elapsed         time.Duration
}

// Run needs Linux (qemu and a Linux guest's tooling); elsewhere it fails.
func Run(ctx context.Context, g Guest, workDir string) (Output, error) {
	return Output{}, errors.New("vm: booting a kernel needs Linux")
}
