package storm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ErrNoHZ means a kernel config holds no CONFIG_HZ line.
var ErrNoHZ = errors.New("storm: no CONFIG_HZ in kernel config")

// ParseKernelConfigHZ returns CONFIG_HZ from a kernel config (the text of
// /boot/config-* or decompressed /proc/config.gz).
func ParseKernelConfigHZ(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "CONFIG_HZ=")
		if !ok {
			continue
		}
		hz, err := strconv.Atoi(v)
		if err != nil || hz <= 0 || hz > 100000 {
			return 0, fmt.Errorf("storm: bad CONFIG_HZ=%q", v)
		}
		return hz, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("storm: read kernel config: %w", err)
	}
	return 0, ErrNoHZ
}

// TimerList is what /proc/timer_list says about the kernel's clocks: the
// monotonic time it was read at and the jiffies of the first CPU then.
type TimerList struct {
	Now     time.Duration // CLOCK_MONOTONIC, from "now at N nsecs"
	Jiffies int64         // from the first "jiffies: N"
}

// ErrNoJiffies means a timer list holds no "now at" or "jiffies:" line.
var ErrNoJiffies = errors.New("storm: no jiffies in timer list")

// ParseTimerList reads the head of /proc/timer_list.
func ParseTimerList(r io.Reader) (TimerList, error) {
	var tl TimerList
	var haveNow, haveJ bool
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() && !(haveNow && haveJ) {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "now at "); ok && !haveNow {
			v, _ = strings.CutSuffix(v, " nsecs")
			ns, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ns < 0 {
				return TimerList{}, fmt.Errorf("storm: bad timer list line %q", line)
			}
			tl.Now, haveNow = time.Duration(ns), true
		}
		if v, ok := strings.CutPrefix(line, "jiffies: "); ok && !haveJ {
			j, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return TimerList{}, fmt.Errorf("storm: bad timer list line %q", line)
			}
			tl.Jiffies, haveJ = int64(j), true
		}
	}
	if !(haveNow && haveJ) {
		return TimerList{}, ErrNoJiffies
	}
	return tl, nil
}

// HZFromTimerLists estimates the tick rate from two timer-list readings
// taken apart in time, snapped to the nearest of the kernel's choices
// (100, 250, 300, 1000).
func HZFromTimerLists(a, b TimerList) (int, error) {
	dt := b.Now - a.Now
	if dt < 50*time.Millisecond || b.Jiffies <= a.Jiffies {
		return 0, fmt.Errorf("storm: timer lists %v apart with %d jiffies: too close to tell HZ", dt, b.Jiffies-a.Jiffies)
	}
	rate := float64(b.Jiffies-a.Jiffies) / dt.Seconds()
	best := 0
	for _, hz := range []int{100, 250, 300, 1000} {
		if best == 0 || abs(rate-float64(hz)) < abs(rate-float64(best)) {
			best = hz
		}
	}
	return best, nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// ClockAt ties monotonic time zero (as mono, a CLOCK_MONOTONIC reading) to
// jiffies, given a timer list and the host's HZ. Ticks fall on multiples
// of the jiffy in CLOCK_MONOTONIC (tick_sched), which is what makes the
// mapping exact to the tick.
func ClockAt(tl TimerList, hz int, mono time.Duration) Clock {
	j := Wheel{HZ: hz}.Jiffy()
	tickAtList := tl.Now - tl.Now%j
	tickAtZero := mono - mono%j
	return Clock{
		HZ:        hz,
		Jiffies:   tl.Jiffies + int64((tickAtZero-tickAtList)/j),
		SinceTick: mono % j,
	}
}
