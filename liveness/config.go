package liveness

import (
	"fmt"
	"time"

	"github.com/flatline-dev/flatline"
)

// Limits of the derivation.
const (
	// MinTimeout is the shortest Timeout: below it a ping schedule is
	// dominated by the Go scheduler's own lateness.
	MinTimeout = 100 * time.Millisecond

	// Jitter is how far each ping interval strays from Interval, either
	// way, as a fraction: each interval is uniform in
	// [Interval·(1−Jitter), Interval·(1+Jitter)].
	Jitter = 0.25
)

// Config is what a program promises about a link it owns: a peer that stops
// answering, whatever its kernel still does, is reported within Timeout;
// a peer paused for less than PauseBudget is never reported. The zero value
// works: Timeout flatline.DefaultTimeout (30 s), everything else derived
// (see Plan).
type Config struct {
	// Timeout is T, the same number as flatline.Config.Timeout: the longest
	// a peer that stopped answering (frozen, deadlocked, crashed,
	// partitioned) may go unnoticed. Zero means flatline.DefaultTimeout. At
	// least MinTimeout.
	Timeout time.Duration

	// PauseBudget is the longest pause of the peer process (a garbage
	// collection, a stop-the-world pause, a VM migration) that must never
	// be reported. Zero means derive it: Timeout/2, or what Interval leaves.
	PauseBudget time.Duration

	// Interval is the mean time between pings; each interval is jittered
	// by ±Jitter, and the first ping leaves after a random part of one
	// interval, so links made together do not ping in lockstep. Zero means
	// derive it: Timeout/5, or what PauseBudget leaves.
	Interval time.Duration

	// Progress, if not zero, is the longest the peer's work loop may go
	// without calling Beat before the link fails with ErrNoProgress (as
	// Kafka's max.poll.interval.ms beside its session timeout). Zero means
	// progress is not watched. At least the longest ping interval: beats
	// travel in the pings.
	Progress time.Duration
}

// Plan is a Config with every value decided, and the bounds it promises.
type Plan struct {
	// Timeout is the detection bound: a peer that stops answering is
	// reported at most Timeout after its last answer left it, plus the
	// lateness of this process's own timers (see LocalPause).
	Timeout time.Duration
	// Deadline is the silence that fails the link: Timeout less a margin
	// of Timeout/20 for the lateness of the Go scheduler and timers.
	Deadline time.Duration
	// PauseBudget is the longest peer pause that is never reported.
	PauseBudget time.Duration
	// Interval is the mean ping interval; MinInterval and MaxInterval
	// bound each jittered interval.
	Interval, MinInterval, MaxInterval time.Duration
	// RTTAllowance is what is left for the round trip and the peer's
	// scheduling after a pause of PauseBudget that began just after it
	// answered, and the longest ping interval: Deadline − PauseBudget −
	// MaxInterval. At least Timeout/20.
	RTTAllowance time.Duration
	// Progress is Config.Progress; ProgressBound the longest a peer whose
	// work loop stopped may go unnoticed: Progress + MaxInterval (the beat
	// it last emitted rides on the next ping). Zero when not watched.
	Progress, ProgressBound time.Duration
	// LocalPause is the lateness of this process's own timer beyond which
	// it counts itself as paused (stopped, or starved of CPU): the time it
	// was not running is not held against the peer, which then has
	// Deadline − PauseBudget from the resumption to be heard from.
	LocalPause time.Duration
}

// ConfigError is a Config that cannot keep its promise. Field names the
// first field at fault.
type ConfigError struct {
	Field string
	Msg   string
}

func (e *ConfigError) Error() string { return "liveness: " + e.Msg }

// Is makes errors.Is(err, flatline.ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == flatline.ErrInvalidConfig }

func configErr(field, format string, a ...any) error {
	return &ConfigError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Validate reports the first setting that cannot keep the promise, in a
// sentence that says what to change; nil if the Config is sound.
func (c Config) Validate() error {
	_, err := c.Plan()
	return err
}

// Plan derives every value from c and states the bounds. It fails as
// Validate, with a *ConfigError matching flatline.ErrInvalidConfig.
//
// From a Timeout T:
//
//	Deadline    D = T − T/20
//	PauseBudget B = T/2
//	Interval    P = T/5, each one in [0.75·P, 1.25·P]
//	RTT allowance D − B − 1.25·P = T/5, at least T/20 when overridden
//
// A peer that stops at s last answered no later than s, so the link fails by
// s + D ≤ s + T. A peer paused for p < B answers the ping it finds waiting
// when it resumes; the gap between two answers is at most p + 1.25·P + the
// round trip < D, so it is never reported.
func (c Config) Plan() (Plan, error) {
	switch {
	case c.Timeout < 0 || c.PauseBudget < 0 || c.Interval < 0 || c.Progress < 0:
		return Plan{}, configErr("Timeout", "durations must not be negative (zero means derive)")
	case c.Timeout != 0 && c.Timeout < MinTimeout:
		return Plan{}, configErr("Timeout", "Timeout %v is below MinTimeout (%v): raise it", c.Timeout, MinTimeout)
	}
	t := c.Timeout
	if t == 0 {
		t = flatline.DefaultTimeout
	}
	margin := t / 20
	p := Plan{Timeout: t, Deadline: t - margin, LocalPause: margin}
	maxOf := func(iv time.Duration) time.Duration { return iv + time.Duration(float64(iv)*Jitter) }

	b, iv := c.PauseBudget, c.Interval
	switch {
	case b == 0 && iv == 0:
		b, iv = t/2, t/5
	case b == 0:
		b = min(t/2, p.Deadline-maxOf(iv)-t/5)
		if b <= 0 {
			return Plan{}, configErr("Interval", "Interval %v leaves no pause budget within Timeout %v: use an Interval of at most %v", iv, t, (p.Deadline-t/5-margin)*4/5)
		}
	case iv == 0:
		iv = min(t/5, time.Duration(float64(p.Deadline-b-t/5)/(1+Jitter)))
		if iv <= 0 {
			return Plan{}, configErr("PauseBudget", "PauseBudget %v leaves no time to ping within Timeout %v: use a PauseBudget of at most %v", b, t, p.Deadline-t/5-margin)
		}
	}
	p.PauseBudget, p.Interval = b, iv
	p.MinInterval = iv - time.Duration(float64(iv)*Jitter)
	p.MaxInterval = maxOf(iv)
	p.RTTAllowance = p.Deadline - b - p.MaxInterval
	if p.RTTAllowance < margin {
		return Plan{}, configErr("PauseBudget", "PauseBudget %v and Interval %v (longest %v) leave %v for the round trip within a Deadline of %v, less than Timeout/20 (%v): shorten PauseBudget or Interval, or raise Timeout",
			b, iv, p.MaxInterval, p.RTTAllowance, p.Deadline, margin)
	}
	if c.Progress > 0 {
		if c.Progress < p.MaxInterval {
			return Plan{}, configErr("Progress", "Progress %v is shorter than the longest ping interval (%v), which carries the beats: raise Progress or shorten Interval", c.Progress, p.MaxInterval)
		}
		p.Progress = c.Progress
		p.ProgressBound = c.Progress + p.MaxInterval
	}
	return p, nil
}
