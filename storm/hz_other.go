//go:build !linux

package storm

import (
	"runtime"
	"time"

	"github.com/flatline-dev/flatline"
)

// HostHZ is Linux only: elsewhere it returns an error matching
// flatline.ErrNotSupported.
func HostHZ() (int, error) { return 0, notSupported("the kernel tick rate (CONFIG_HZ)") }

// Monotonic is Linux only.
func Monotonic() (time.Duration, error) { return 0, notSupported("CLOCK_MONOTONIC") }

// HostClock is Linux only.
func HostClock(int, time.Duration) (Clock, error) {
	return Clock{}, notSupported("jiffies from /proc/timer_list")
}

func notSupported(what string) error {
	return &flatline.NotSupportedError{Feature: what, Needs: "Linux", GOOS: runtime.GOOS}
}
