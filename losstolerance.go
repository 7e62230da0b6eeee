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
// takes the first chain that meets the design point; but the spread keeps
// at least one second (four timer-wheel buckets of 256 ms at a 2-16 s
// horizon: connections made together still probe apart, with a higher
// storm floor that `flatline plan --conns` states) and the idle at least
// three quarters (the healthy-link probe rate rises by a third at most). Where no chain
// within those limits meets it (below about 12 s), it takes the one with
// the fewest predicted false kills, and Plan's notes say what works
// (NoSpread, a heartbeat, a larger Timeout). spread is Config.Spread as
// set (zero: derived, it takes what the chain leaves).
func lossTolerantChain(t, i, v time.Duration, count int, spread time.Duration) (time.Duration, time.Duration, int) {
	fixed := max(spread, 0)
	minSpread := fixed
	if spread == 0 { // derived: what the old chain left, at most Idle
		old := min(max(t-i-time.Duration(count)*v, 0), i)
		minSpread = min(old.Truncate(time.Second), time.Second)
	}
	minIdle := max(time.Second, (3*i/4 + time.Second - 1).Truncate(time.Second))
	chain := func(idle, budget time.Duration) (time.Duration, time.Duration, int) {
		iv := max(time.Second, (budget+maxDerivedCount*time.Second-1)/maxDerivedCount).Truncate(time.Second)
		return idle, iv, int(budget / iv)
	}
	bi, bv, bn := chain(i, time.Duration(count)*v)
	best := idleFalseKills(bi, bv, bn, DesignLoss)
	target := DesignFalseKills(t)
	if best <= target {
		return bi, bv, bn
	}
	for idle := i; idle >= minIdle; idle -= time.Second {
		for budget := time.Duration(count)*v + i - idle; idle+budget+minSpread <= t; budget += time.Second {
			ci, cv, cn := chain(idle, budget)
			r := idleFalseKills(ci, cv, cn, DesignLoss)
			if r <= target {
				return ci, cv, cn
			}
			if r < best {
				bi, bv, bn, best = ci, cv, cn, r
			}
		}
	}
	return bi, bv, bn
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
	r, err := kernel.IdleFalseKills(o, 0, p)
	if err != nil {
		return 1
	}
	return r
}

// rtoMax is the TCP_RTO_MAX_MS a plan sets: Config.RTOMax as set, or for
// a user timeout u within Timeout t the longest whole-second cap (from
// 120 s down to 1 s) that keeps a connection writing once a second below
// DesignFalseKills(t) at DesignLoss: each write is lost only when all its
// transmissions within u are, and the kernel's doubling RTO fits few of
// them (8 within 22.6 s from 200 ms; a 5 s cap fits 10). Zero where the
// kernel's own backoff already meets the design point, or where no cap
// does (a Timeout below about 10 s): there the cap would only send more
// packets into an outage. The dead-peer bound does not change: the user
// timeout still ends the connection, counted from the first
// retransmission.
func (c Config) rtoMax(t, u time.Duration) time.Duration {
	switch c.RTOMax {
	case NoRTOMax:
		return 0
	case 0:
	default:
		return c.RTOMax
	}
	target := DesignFalseKills(t)
	busy := func(rtoMax time.Duration) float64 {
		return kernel.BusyFalseKills(u, LinuxDefaults().Retries2, time.Second, kernel.Path{Loss: DesignLoss, RTOMax: rtoMax})
	}
	if u <= 0 || busy(0) <= target || busy(kernel.MinRTOMax) > target {
		return 0
	}
	// A lower cap never fits fewer retransmissions: search the whole
	// seconds between 1 s (meets the design point) and 120 s (does not).
	lo, hi := int(kernel.MinRTOMax/time.Second), int(kernel.MaxRTO/time.Second)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if busy(time.Duration(mid)*time.Second) <= target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return time.Duration(lo) * time.Second
}
