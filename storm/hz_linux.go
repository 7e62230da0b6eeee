package storm

import (
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// HostHZ returns the running kernel's CONFIG_HZ, from /proc/config.gz or
// /boot/config-$(uname -r); when neither is readable it measures it from
// two readings of /proc/timer_list 100 ms apart. The error names every
// source that failed.
func HostHZ() (int, error) {
	hz, errConfig := configHZ()
	if errConfig == nil {
		return hz, nil
	}
	a, err := readTimerList()
	if err != nil {
		return 0, errors.Join(errConfig, err)
	}
	time.Sleep(100 * time.Millisecond) // the measurement itself, not a wait for a condition
	b, err := readTimerList()
	if err != nil {
		return 0, errors.Join(errConfig, err)
	}
	return HZFromTimerLists(a, b)
}

func configHZ() (int, error) {
	f, err := os.Open("/proc/config.gz")
	if err == nil {
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			return 0, fmt.Errorf("storm: /proc/config.gz: %w", err)
		}
		return ParseKernelConfigHZ(z)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return 0, os.NewSyscallError("uname", err)
	}
	name := "/boot/config-" + unix.ByteSliceToString(u.Release[:])
	g, err := os.Open(name)
	if err != nil {
		return 0, fmt.Errorf("storm: no kernel config (/proc/config.gz, %s): %w", name, err)
	}
	defer g.Close()
	return ParseKernelConfigHZ(g)
}

func readTimerList() (TimerList, error) {
	f, err := os.Open("/proc/timer_list")
	if err != nil {
		return TimerList{}, fmt.Errorf("storm: %w", err)
	}
	defer f.Close()
	return ParseTimerList(f)
}

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
	tl, err := readTimerList()
	if err != nil {
		return Clock{}, err
	}
	return ClockAt(tl, hz, mono), nil
}
