package kernel

import (
	"fmt"
	"time"
)

// Keepalive is what decides when tcp_keepalive_timer ends an idle
// connection: TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT (the effective
// values, per socket or the namespace's sysctls) and TCP_USER_TIMEOUT.
type Keepalive struct {
	Idle, Interval time.Duration
	// Count is used only when UserTimeout is zero; less than 1 means 1.
	Count int
	// UserTimeout replaces Count when set.
	UserTimeout time.Duration
}

// KeepaliveKills is tcp_keepalive_timer's decision at a firing where the
// connection has been silent for at least its idle time: with a user
// timeout the connection dies once the silence (elapsed, jiffies) reaches
// it (msecs_to_jiffies, rounded up) and at least one probe is out; without
// one, once probesOut probes went unanswered and count is reached. A
// firing that does not kill sends a probe and re-arms one interval later.
func KeepaliveKills(elapsed, userTimeout int64, probesOut, count int) bool {
	if userTimeout > 0 {
		return elapsed >= userTimeout && probesOut > 0
	}
	return probesOut >= max(count, 1)
}

// KeepaliveStep is what tcp_keepalive_timer does at one firing.
type KeepaliveStep int

// The three outcomes of a keepalive firing.
const (
	// KeepaliveRearm: the connection heard from its peer less than idle
	// ago; the timer is re-armed for the rest of idle.
	KeepaliveRearm KeepaliveStep = iota
	// KeepaliveProbe: a probe goes out (probes out + 1) and the timer is
	// re-armed one interval later.
	KeepaliveProbe
	// KeepaliveKill: the connection ends with ETIMEDOUT.
	KeepaliveKill
)

// KeepaliveFire is tcp_keepalive_timer at one firing on an idle
// connection (nothing in flight or queued: the kernel then only re-arms
// a full idle), in one unit (jiffies) for every time: elapsed since the
// last segment received (keepalive_time_elapsed), idle, interval and the
// user timeout (0: none). It returns the step and, unless the step kills,
// how far ahead the timer is re-armed: the rest of idle, or one interval
// after a probe.
func KeepaliveFire(elapsed, idle, interval, userTimeout int64, probesOut, count int) (KeepaliveStep, int64) {
	switch {
	case elapsed < idle:
		return KeepaliveRearm, idle - elapsed
	case KeepaliveKills(elapsed, userTimeout, probesOut, count):
		return KeepaliveKill, 0
	}
	return KeepaliveProbe, interval
}

// Lateness picks, for a simulated firing sequence, how late each timer
// fires within what the wheel allows.
type Lateness int

// The two extremes of a firing sequence.
const (
	// Earliest: every timer fires one jiffy after its expiry (the least
	// the wheel allows: it never fires early, and rounds up).
	Earliest Lateness = iota
	// Latest: every timer fires a whole bucket of its horizon late.
	Latest
)

// Firing is one firing of a simulated keepalive sequence.
type Firing struct {
	// At is the firing's time since the last segment received.
	At time.Duration
	// Probe is true when the firing sent a probe, false when it killed.
	Probe bool
}

// Sequence simulates tcp_keepalive_timer on the wheel for a peer that goes
// silent right after the last segment received (time zero): the first
// firing Idle later, each next one Interval after the previous firing,
// each late as lateness says, until the firing that kills. Lateness
// accumulates: every timer is armed from the previous firing, not from
// time zero. It lists at most maxFirings firings (the chain's head); Death
// walks chains of any length.
func (k Keepalive) Sequence(w Wheel, lateness Lateness) []Firing {
	var fs []Firing
	k.walk(w, lateness, func(at int64, probe bool) bool {
		fs = append(fs, Firing{At: w.Duration(at), Probe: probe})
		return len(fs) < maxFirings
	})
	return fs
}

const maxFirings = 1 << 12

// walk runs the firing sequence, calling visit (when not nil) for each
// firing until visit returns false, and returns the probes sent before the
// killing firing and that firing's time in jiffies. Without a visitor,
// firings far below the user timeout are skipped over arithmetically:
// each of them only sends a probe.
func (k Keepalive) walk(w Wheel, lateness Lateness, visit func(at int64, probe bool) bool) (probes int, at int64) {
	if k.Idle <= 0 || k.Interval <= 0 {
		return 0, 0
	}
	late := func(ahead time.Duration) int64 {
		if lateness == Earliest {
			return 1
		}
		return w.bucket(ahead)
	}
	idle, user := w.Jiffies(k.Idle), w.Jiffies(k.UserTimeout)
	step := w.Jiffies(k.Interval) + late(k.Interval)
	at = idle + late(k.Idle)
	for {
		// The peer is silent from time zero: every firing is at least
		// idle after the last receive, so it probes or kills.
		fired, _ := KeepaliveFire(at, idle, w.Jiffies(k.Interval), user, probes, k.Count)
		kills := fired == KeepaliveKill
		if visit != nil && !visit(at, !kills) {
			return probes, at
		}
		if kills {
			return probes, at
		}
		probes++
		at += step
		if n := (user - 1 - at) / step; visit == nil && user > 0 && n > 0 {
			probes += int(n)
			at += n * step
		}
	}
}

// Death is when a keepalive sequence ends a silent connection, over every
// lateness the timer wheel allows.
type Death struct {
	// MinProbes and MaxProbes are how many probes go out before the
	// killing firing: fewest when every timer fires as late as its bucket
	// allows, most when every timer fires at once. Without a user timeout
	// both are Count.
	MinProbes, MaxProbes int
	// Nominal is Idle + MaxProbes·Interval: the killing firing's time
	// without any timer lateness, from the last segment received.
	Nominal time.Duration
	// Slack is how late the killing firing may come on top of Nominal:
	// the first timer's bucket and MaxProbes interval timers' buckets.
	Slack time.Duration
}

// LostProbes is how many probes in a row may go unanswered without the
// connection being killed, whatever the timers' lateness.
func (d Death) LostProbes() int { return max(d.MinProbes-1, 0) }

// Death returns when the kernel ends a connection whose peer went silent,
// simulated on the wheel of hz (≤ 0: unknown, every CommonHZ wheel, the
// widest range). The zero Death and an error come back for settings the
// kernel would not accept (idle or interval below one second).
func (k Keepalive) Death(hz int) (Death, error) {
	if k.Idle < time.Second || k.Interval < time.Second {
		return Death{}, fmt.Errorf("kernel: keepalive idle %v and interval %v must be at least 1s", k.Idle, k.Interval)
	}
	d := Death{MinProbes: -1}
	for _, w := range wheels(hz) {
		fewest, _ := k.walk(w, Latest, nil)
		most, _ := k.walk(w, Earliest, nil)
		if d.MinProbes < 0 || fewest < d.MinProbes {
			d.MinProbes = fewest
		}
		d.MaxProbes = max(d.MaxProbes, most)
	}
	d.Nominal = k.Idle + time.Duration(d.MaxProbes)*k.Interval
	d.Slack = Granularity(hz, k.Idle) + time.Duration(d.MaxProbes)*Granularity(hz, k.Interval)
	return d, nil
}

// SafeUserTimeout is the shortest user timeout that lets count probes go
// out whatever the timers' lateness on a kernel with hz (≤ 0: unknown):
// just past the latest the count-th probe can leave. A user timeout in
// [SafeUserTimeout, Idle + count·Interval] keeps both promises; when the
// first is above the second, no user timeout does (the accumulated
// lateness of count firings is more than one interval).
func SafeUserTimeout(hz int, idle, interval time.Duration, count int) time.Duration {
	if count <= 1 {
		return time.Millisecond // the kernel never kills before one probe went out
	}
	var safe time.Duration
	for _, w := range wheels(hz) {
		latest := w.Jiffies(idle) + w.bucket(idle) + int64(count-1)*(w.Jiffies(interval)+w.bucket(interval))
		// The kernel compares whole jiffies with msecs_to_jiffies(U),
		// rounded up: U must be past latest.
		ms := latest*1000/int64(w.hz) + 1
		safe = max(safe, time.Duration(ms)*time.Millisecond)
	}
	return safe
}

// Left is how long from now until tcp_keepalive_timer ends a connection
// whose peer has been silent for quiet (Quiet: the keepalive clock),
// with probes unanswered probes out and its keepalive timer pending
// expires from now. With no probe out the pending firing sends the first
// probe, at the later of expires and Idle after the last receive; every
// later firing comes Interval after the previous one, until
// KeepaliveKills: Count probes out, or with a user timeout the first
// firing at least UserTimeout after the last receive with a probe out.
// Counting from the socket's own clock and timer takes in the lateness of
// the firings already past; the lateness of those to come is not in it
// (add the bound's slack).
func (k Keepalive) Left(quiet, expires time.Duration, probes int) time.Duration {
	at := expires
	if probes <= 0 {
		// The pending firing is the first: it probes (it never kills
		// with no probe out, and Count is at least 1).
		at, probes = max(expires, k.Idle-quiet)+k.Interval, 1
	}
	if k.UserTimeout > 0 {
		if short := k.UserTimeout - quiet - at; short > 0 && k.Interval > 0 {
			at += time.Duration((int64(short)+int64(k.Interval)-1)/int64(k.Interval)) * k.Interval
		}
		return at
	}
	return at + time.Duration(max(max(k.Count, 1)-probes, 0))*k.Interval
}
