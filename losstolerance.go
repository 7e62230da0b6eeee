package flatline

import (
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// DesignLoss is the planner's loss design point: a default plan keeps an
// idle connection whose peer is alive below DesignFalseKills(Timeout)
// false kills per hour at DesignLoss random loss each way, where its
// Timeout leaves room for that (from 10 s; kernel.FalseKills is the model).
const DesignLoss = 0.05

// DesignFalseKills is the most false kills per idle connection-hour a
// default plan with Timeout t predicts at DesignLoss: 10⁻⁴ from 10 s,
// 10⁻⁶ from 30 s. Below 10 s no keepalive chain reaches 10⁻⁴ (Plan's
// notes say what does).
func DesignFalseKills(t time.Duration) float64 {
	if t >= 30*time.Second {
		return 1e-6
	}
	return 1e-4
}

// maxDerivedCount is the most keepalive probes a derived plan sends to a
// dead peer: enough exchanges (at 5 % loss each way, 17 lost in a row
// happen once in 10¹⁷ cycles), few enough packets during an outage.
const maxDerivedCount = 20

// lossTolerantChain is the planner's choice of keepalive Interval and Count
// for a derived plan (no Idle, Interval, Count or UserTimeout set): from the
// idle i and the probe budget count·v the timeout-based rule gave, it keeps
// Idle (one probe per Idle on a healthy link, and the spread that follows
// from it) and spends the same budget on the most probe exchanges: an
// interval of 1 s (longer only past maxDerivedCount probes). Probes cost
// packets only once they go unanswered, and every extra exchange divides
// the false-kill rate by about 1/q (10 at 5 % loss).
//
// When that still predicts more than DesignFalseKills(t) at DesignLoss, it
// gives probes the spread's seconds, then the idle's, one at a time, and
// takes the first chain that meets the design point. Where none does (a
// Timeout below about 10 s has no room), it keeps the first chain and
// Plan's notes say what works instead. spread is Config.Spread as set
// (zero: derived, it takes what the chain leaves).
func lossTolerantChain(t, i, v time.Duration, count int, spread time.Duration) (time.Duration, time.Duration, int) {
	fixed := max(spread, 0)
	chain := func(idle, budget time.Duration) (time.Duration, time.Duration, int) {
		iv := max(time.Second, (budget+maxDerivedCount*time.Second-1)/maxDerivedCount).Truncate(time.Second)
		return idle, iv, int(budget / iv)
	}
	fi, fv, fn := chain(i, time.Duration(count)*v)
	target := DesignFalseKills(t)
	if idleFalseKills(fi, fv, fn, DesignLoss) <= target {
		return fi, fv, fn
	}
	for idle := i; idle >= time.Second; idle -= time.Second {
		for budget := time.Duration(count)*v + i - idle; idle+budget <= t-fixed; budget += time.Second {
			ci, cv, cn := chain(idle, budget)
			if idleFalseKills(ci, cv, cn, DesignLoss) <= target {
				return ci, cv, cn
			}
		}
	}
	return fi, fv, fn
}

// derivedUserTimeout is the user timeout a derived plan sets: Idle +
// Count·Interval, less FirstRetransmission when Count > 1, so that sending
// ends when an idle connection does.
func derivedUserTimeout(i, v time.Duration, count int) time.Duration {
	u := i + time.Duration(count)*v
	if count > 1 {
		u -= FirstRetransmission // it counts from the first retransmission
	}
	return u
}

// idleFalseKills is the model's false kills per idle connection-hour for a
// derived chain at random loss p each way, on a kernel of unknown HZ.
func idleFalseKills(i, v time.Duration, count int, p float64) float64 {
	o := kernel.Options{KeepAlive: true, Idle: i, Interval: v, Count: count, UserTimeout: derivedUserTimeout(i, v, count)}
	r, err := kernel.KeepaliveRisk(o, 0, p)
	if err != nil {
		return 1
	}
	return r.PerHour
}
