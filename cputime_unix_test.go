//go:build unix

package flatline_test

import (
	"time"

	"golang.org/x/sys/unix"
)

// processCPU is the process's CPU time so far, user and system: every
// goroutine's, the accepting side's included.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
