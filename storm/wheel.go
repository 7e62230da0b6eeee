package storm

import (
	"fmt"
	"time"

	"github.com/flatline-dev/flatline"
)

// Wheel is the Linux timer wheel (kernel/time/timer.c) of a host with a
// given tick rate: the structure that decides when a keepalive timer really
// fires. A timer armed delta jiffies ahead goes to level n, the first level
// whose range holds delta; level n has 64 buckets of 8^n jiffies, and the
// timer fires at the end of the bucket it falls in: its expiry rounded up
// to the next multiple of 8^n jiffies (always at least one jiffy late).
// Timers that fall in the same bucket fire in the same tick, whatever the
// difference in their requested expiry.
type Wheel struct {
	// HZ is the kernel's tick rate (CONFIG_HZ): 100, 250, 300 or 1000.
	// Zero means 250.
	HZ int
}

const (
	lvlClkShift = 3 // LVL_CLK_SHIFT: each level is 8 times coarser
	lvlBits     = 6 // LVL_BITS: 64 buckets per level
	lvlSize     = 1 << lvlBits
)

func (w Wheel) hz() int {
	if w.HZ <= 0 {
		return 250
	}
	return w.HZ
}

// depth is LVL_DEPTH: 9 levels for HZ > 100, else 8.
func (w Wheel) depth() int {
	if w.hz() > 100 {
		return 9
	}
	return 8
}

// Jiffy is the length of one tick.
func (w Wheel) Jiffy() time.Duration { return time.Second / time.Duration(w.hz()) }

// levelStart is LVL_START(n): the smallest delta (jiffies) at level n >= 1.
func levelStart(n int) int64 { return (lvlSize - 1) << ((n - 1) * lvlClkShift) }

// Level returns the wheel level a timer delta jiffies ahead is queued at.
func (w Wheel) Level(delta int64) int {
	for n := 1; n < w.depth(); n++ {
		if delta < levelStart(n) {
			return n - 1
		}
	}
	return w.depth() - 1
}

// Granularity returns the bucket width at the level a timer ahead of now is
// queued at: the lateness such a timer may have, and the resolution below
// which timers armed for about the same moment fire together.
func (w Wheel) Granularity(ahead time.Duration) time.Duration {
	return flatline.WheelGranularity(w.hz(), ahead)
}

// Jiffies converts d to whole jiffies, rounding up as the kernel's
// msecs_to_jiffies does.
func (w Wheel) Jiffies(d time.Duration) int64 {
	j := w.Jiffy()
	return int64((d + j - 1) / j)
}

// Expiry returns the jiffy at which a timer armed at jiffy clk to expire
// delta jiffies later really fires (calc_wheel_index and calc_index): the
// expiry rounded up to the next bucket boundary of its level. Timers
// further ahead than the wheel covers are capped as the kernel caps them.
func (w Wheel) Expiry(clk, delta int64) int64 {
	if delta < 0 {
		return clk
	}
	expires := clk + delta
	lvl := w.Level(delta)
	if lvl == w.depth()-1 {
		cutoff := levelStart(w.depth())
		if delta >= cutoff {
			expires = clk + cutoff - (int64(1) << ((w.depth() - 1) * lvlClkShift))
		}
	}
	shift := lvl * lvlClkShift
	return ((expires >> shift) + 1) << shift
}

// String describes the wheel's levels as a person would read them.
func (w Wheel) String() string {
	s := fmt.Sprintf("HZ=%d:", w.hz())
	for n := 0; n < 5; n++ {
		lo := time.Duration(0)
		if n > 0 {
			lo = time.Duration(levelStart(n)) * w.Jiffy()
		}
		hi := time.Duration(levelStart(n+1)) * w.Jiffy()
		s += fmt.Sprintf(" [%v,%v)→%v", lo, hi, w.Jiffy()<<(n*lvlClkShift))
	}
	return s
}
