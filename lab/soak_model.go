package lab

import (
	"math"
	"time"

	"github.com/flatline-dev/flatline"
)

// soakModelName names the prediction soakPerHour makes.
const soakModelName = "one-line: an idle cycle fails when all its probe exchanges are lost, q^n with q = 1 − (1 − p)², once per Idle; a trickle write when all its transmissions within the user timeout are"

// soakPerHour is the model's expected false kills per connection-hour of
// group g's client socket s at loss l, ok false where it has no answer
// (the heartbeat).
func soakPerHour(c ConfigName, w SoakWorkload, s flatline.Settings, l Loss) (float64, bool) {
	if c == FlatlineHeartbeat {
		return 0, false
	}
	q := 1 - math.Pow(1-l.Fraction(), 2)
	switch w {
	case SoakIdle:
		if !s.KeepAlive || s.Idle <= 0 {
			return 0, true
		}
		return math.Pow(q, float64(probesBeforeDeath(s))) * float64(time.Hour) / float64(s.Idle), true
	case SoakTrickle:
		n := 16 // tcp_retries2 = 15: the write and 15 retransmissions
		if s.UserTimeout > 0 {
			n = transmissionsWithin(s.UserTimeout, 200*time.Millisecond)
		}
		return math.Pow(q, float64(n)) * float64(time.Hour) / float64(TricklePeriod), true
	}
	return 0, false
}

// probesBeforeDeath is how many unanswered probes kill an idle socket: with
// a user timeout U, the firings at Idle + k·Interval kill at the first
// k ≥ 1 with Idle + k·Interval ≥ U, after k probes; without, Count.
func probesBeforeDeath(s flatline.Settings) int {
	if s.UserTimeout <= 0 {
		return max(s.Count, 1)
	}
	if s.Interval <= 0 {
		return 1
	}
	k := int(math.Ceil(float64(s.UserTimeout-s.Idle) / float64(s.Interval)))
	return max(k, 1)
}

// transmissionsWithin counts a segment's transmissions before a user
// timeout u kills it: the first send, the first retransmission an RTO
// later, then retransmissions at 2·RTO, 4·RTO, ... apart while the time
// since the first retransmission is below u.
func transmissionsWithin(u, rto time.Duration) int {
	n := 2
	for at, step := time.Duration(0), 2*rto; at+step < u; step *= 2 {
		at += step
		n++
	}
	return n
}
