package kernel

import (
	"fmt"
	"time"
)

// CommonHZ are the timer frequencies Linux is built with (CONFIG_HZ). An
// unknown HZ (zero or negative) means, everywhere in this package, the worst
// case over these values: the coarsest bucket a timer may land in.
func CommonHZ() []int { return []int{100, 250, 300, 1000} }

// Wheel is the Linux timer wheel (kernel/time/timer.c) of a kernel with a
// known tick rate: the structure that decides when a keepalive or
// retransmission timer really fires. A timer armed delta jiffies ahead goes
// to level n, the first level whose range holds delta; level n has 64
// buckets of 8^n jiffies, and the timer fires at the end of the bucket it
// falls in: its expiry rounded up to the next multiple of 8^n jiffies
// (always at least one jiffy late). Timers in the same bucket fire in the
// same tick, whatever the difference in their requested expiry.
//
// A Wheel needs a known HZ; NewWheel rejects others. Code that does not
// know HZ uses Granularity, which takes the worst over CommonHZ.
type Wheel struct{ hz int }

// NewWheel returns the wheel of a kernel built with hz (1 to 100000).
func NewWheel(hz int) (Wheel, error) {
	if hz <= 0 || hz > 100000 {
		return Wheel{}, fmt.Errorf("kernel: HZ %d is not a tick rate: use one of %v", hz, CommonHZ())
	}
	return Wheel{hz: hz}, nil
}

// MustWheel is NewWheel for a constant HZ; it panics on a bad one.
func MustWheel(hz int) Wheel {
	w, err := NewWheel(hz)
	if err != nil {
		panic(err)
	}
	return w
}

const (
	lvlClkShift = 3 // LVL_CLK_SHIFT: each level is 8 times coarser
	lvlBits     = 6 // LVL_BITS: 64 buckets per level
	lvlSize     = 1 << lvlBits
)

// HZ is the wheel's tick rate.
func (w Wheel) HZ() int { return w.hz }

// depth is LVL_DEPTH: 9 levels above HZ=100, else 8.
func (w Wheel) depth() int {
	if w.hz > 100 {
		return 9
	}
	return 8
}

// Jiffy is the length of one tick.
func (w Wheel) Jiffy() time.Duration { return time.Second / time.Duration(w.hz) }

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

// Jiffies converts d to whole jiffies, rounding up as msecs_to_jiffies
// does (exact at every HZ, 300 included).
func (w Wheel) Jiffies(d time.Duration) int64 {
	ns, hz := int64(d), int64(w.hz)
	return ns/1e9*hz + (ns%1e9*hz+1e9-1)/1e9
}

// Duration converts jiffies to time, rounding down to the nanosecond.
func (w Wheel) Duration(j int64) time.Duration {
	hz := int64(w.hz)
	return time.Duration(j/hz*1e9 + j%hz*1e9/hz)
}

// Granularity returns the bucket width at the level a timer armed ahead
// is queued at: how late it may fire, and the resolution below which
// timers armed for about the same moment fire together. At HZ=250: 4 ms
// below 252 ms, 32 ms below 2.016 s, 256 ms below 16.128 s, 2.048 s below
// 129 s.
func (w Wheel) Granularity(ahead time.Duration) time.Duration {
	return w.Duration(int64(1) << (w.Level(w.Jiffies(ahead)) * lvlClkShift))
}

// Bucket is the bucket width at wheel level n (8^n jiffies): at HZ=250,
// 4 ms at level 0, 32 ms at 1, 256 ms at 2 (timers 2.016-16.128 s ahead),
// 2.048 s at 3.
func (w Wheel) Bucket(n int) time.Duration {
	return w.Duration(int64(1) << (max(n, 0) * lvlClkShift))
}

// bucket is Granularity in jiffies.
func (w Wheel) bucket(ahead time.Duration) int64 {
	return int64(1) << (w.Level(w.Jiffies(ahead)) * lvlClkShift)
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

// String describes the wheel's first levels as a person would read them.
func (w Wheel) String() string {
	s := fmt.Sprintf("HZ=%d:", w.hz)
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

// Granularity is how late a timer armed d ahead may fire on a kernel with
// hz; hz ≤ 0 (unknown) gives the largest over CommonHZ.
func Granularity(hz int, d time.Duration) time.Duration {
	if w, err := NewWheel(hz); err == nil {
		return w.Granularity(d)
	}
	var worst time.Duration
	for _, h := range CommonHZ() {
		worst = max(worst, MustWheel(h).Granularity(d))
	}
	return worst
}

// Jiffy is one tick at hz; hz ≤ 0 (unknown) gives the longest over
// CommonHZ (HZ=100: 10 ms).
func Jiffy(hz int) time.Duration {
	if w, err := NewWheel(hz); err == nil {
		return w.Jiffy()
	}
	return time.Second / time.Duration(CommonHZ()[0])
}

// wheels returns the wheel of hz, or every CommonHZ wheel when hz is
// unknown.
func wheels(hz int) []Wheel {
	if w, err := NewWheel(hz); err == nil {
		return []Wheel{w}
	}
	var ws []Wheel
	for _, h := range CommonHZ() {
		ws = append(ws, MustWheel(h))
	}
	return ws
}
