package storm

import (
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// ClockAt ties monotonic time zero (as mono, a CLOCK_MONOTONIC reading) to
// jiffies, given a timer list and the host's HZ. Ticks fall on multiples
// of the jiffy in CLOCK_MONOTONIC (tick_sched), which is what makes the
// mapping exact to the tick.
func ClockAt(tl kernel.TimerList, hz int, mono time.Duration) Clock {
	j := kernel.Jiffy(hz)
	tickAtList := tl.Now - tl.Now%j
	tickAtZero := mono - mono%j
	return Clock{
		HZ:        hz,
		Jiffies:   tl.Jiffies + int64((tickAtZero-tickAtList)/j),
		SinceTick: mono % j,
	}
}
