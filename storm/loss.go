package storm

import "time"

// LostBetween says what the gap between two probes of one connection, as
// a capture point saw them, tells of the probes in between with keepalive
// k: an answered probe is followed by the next one Idle later (rounded up
// to the wheel's bucket), an unanswered one by a retry one Interval later.
// So a gap below (Idle+Interval)/2 follows a probe that got no answer
// (lost beyond the capture point, or its answer lost), and a gap beyond
// Idle + Interval/2 hides probes the capture point never saw (lost before
// it), one an Interval. Only when Interval is below Idle can the two be
// told apart; otherwise ok is false.
func LostBetween(gap time.Duration, k Keepalive) (unanswered bool, missing int, ok bool) {
	if k.Interval <= 0 || k.Interval >= k.Idle {
		return false, 0, false
	}
	switch {
	case gap < (k.Idle+k.Interval)/2:
		return true, 0, true
	case gap > k.Idle+k.Interval/2:
		return false, int((gap - k.Idle + k.Interval/2) / k.Interval), true
	}
	return false, 0, true
}

// BeforeLoss returns how many of one connection's probe times (sorted, as
// a capture point saw them) came before its first loss the capture shows
// (LostBetween): the probe that went unanswered counts, its retry and
// everything after do not. All of them when k does not tell losses apart.
//
// A lost probe moves its connection's phase for good: the retry goes out
// one Interval later, and once answered the connection probes Idle after
// it. Where many probes of one tick are lost together (another program's
// traffic filling a CPU backlog), their connections move together onto
// another tick's, whose burst grows by them in every later cycle. The
// model knows only the losses it causes (Policer, HostQueue); a burst
// counted over the probes before loss, on both sides
// (Result.TimesBeforeLoss), compares the strategy's own phases.
func BeforeLoss(ts []time.Duration, k Keepalive) int {
	for i := 1; i < len(ts); i++ {
		unanswered, missing, ok := LostBetween(ts[i]-ts[i-1], k)
		if !ok {
			return len(ts)
		}
		if unanswered || missing > 0 {
			return i
		}
	}
	return len(ts)
}

// TimesBeforeLoss returns the times of the probes that reached the wire
// before their connection's first loss a capture beyond the sending host
// would see (BeforeLoss): a probe lost on the way or unanswered counts,
// the ones after it do not; a probe the host cut (never on the wire)
// ends the count when an earlier probe of its connection was on the
// wire, as the capture sees that gap, and is not seen otherwise. With
// visible false (the keepalive settings do not tell losses apart) it is
// Times.
func (r Result) TimesBeforeLoss(visible bool) []time.Duration {
	if !visible {
		return r.Times()
	}
	const (
		none = iota
		onWire
		lost
	)
	state := make([]uint8, len(r.Dead))
	ts := make([]time.Duration, 0, len(r.Probes))
	for _, p := range r.Probes {
		s := &state[p.Conn]
		switch {
		case *s == lost:
		case p.Cut:
			if *s == onWire {
				*s = lost
			}
		default:
			ts = append(ts, p.At)
			*s = onWire
			if p.Lost {
				*s = lost
			}
		}
	}
	return ts
}
