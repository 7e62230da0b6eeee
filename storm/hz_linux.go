package storm

import (
	"os"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"golang.org/x/sys/unix"
)

// HostHZ returns the running kernel's CONFIG_HZ, from its config or, when
// none is readable, measured from /proc/timer_list (the kernel model's
// discovery).
func HostHZ() (int, error) { return kernel.HostHZ("/") }

// Monotonic returns CLOCK_MONOTONIC now: the clock the kernel's ticks and
// AF_PACKET's timestamps are compared on.
func Monotonic() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, os.NewSyscallError("clock_gettime", err)
	}
	return time.Duration(ts.Nano()), nil
}

// HostClock returns the Clock that puts time zero at mono (a Monotonic
// reading) on this host's jiffies, read from /proc/timer_list (root).
func HostClock(hz int, mono time.Duration) (Clock, error) {
	tl, err := kernel.ReadTimerList("/")
	if err != nil {
		return Clock{}, err
	}
	return ClockAt(tl, hz, mono), nil
}
