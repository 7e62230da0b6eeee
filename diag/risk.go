package diag

import (
	"fmt"
	"math"
	"time"

	"github.com/flatline-dev/flatline"
)

// The loss estimate and the at-risk rule: VerdictAtRisk is a socket whose
// dead-peer bound holds but at whose seen loss the false-kill model expects
// AtRiskPerHour or more false kills an hour.
const (
	// RiskMinSegments is the fewest segments a socket must have sent
	// (tcpi_segs_out) for its retransmitted share to count as an estimate
	// of its path's loss: below it one retransmission is a large share.
	RiskMinSegments = 200
	// RiskMaxLoss caps the estimate: a socket retransmitting more than
	// half its segments is stuck or on a path that is down, not lossy.
	RiskMaxLoss = 0.5
	// AtRiskPerHour is the expected false kills per socket-hour from
	// which a socket whose bound holds is at-risk: a 1 % chance an hour.
	AtRiskPerHour = 0.01
)

// lossSeen estimates the random loss each way on a socket's path from
// tcp_info: tcpi_total_retrans / tcpi_segs_out, the share of the
// segments it sent that it had to send again. A retransmission follows a
// lost segment or a lost acknowledgement (or a spurious timeout), and
// keepalive probes count as segments sent but are never retransmitted, so
// on an idle socket the estimate runs low. ok false with fewer than
// RiskMinSegments segments or without the counters (Linux before 4.2);
// at most RiskMaxLoss.
func lossSeen(i *TCPInfo) (float64, bool) {
	if i == nil || !i.HasSegsOut || i.SegsOut < RiskMinSegments {
		return 0, false
	}
	return min(float64(i.TotalRetrans)/float64(i.SegsOut), RiskMaxLoss), true
}

// falseKillsPerHour is the false-kill model's expected kills per hour of
// a socket with settings s in state st, its peer alive, at loss p each
// way; ok false for a state it does not cover. An idle (or receiving)
// socket runs a keepalive cycle about once per Idle, which kills when all
// its probe exchanges fail (q^n, q = 1 − (1 − p)²); a sending one kills
// when a segment's transmissions within the user timeout all fail.
func falseKillsPerHour(s flatline.Settings, st flatline.State, p float64) (float64, bool) {
	q := 1 - (1-p)*(1-p)
	switch st {
	case flatline.StateIdle, flatline.StateReceiving:
		if !s.KeepAlive || s.Idle <= 0 {
			return 0, true
		}
		n := max(s.Count, 1)
		if s.UserTimeout > 0 {
			n = 1
			if s.Interval > 0 {
				n = max(int(math.Ceil(float64(s.UserTimeout-s.Idle)/float64(s.Interval))), 1)
			}
		}
		return math.Pow(q, float64(n)) * float64(time.Hour) / float64(s.Idle), true
	case flatline.StateSending:
		if s.UserTimeout <= 0 {
			return 0, true // tcp_retries2: sixteen transmissions, negligible
		}
		n := 2
		for at, step := time.Duration(0), 400*time.Millisecond; at+step < s.UserTimeout; step *= 2 {
			at += step
			n++
		}
		return math.Pow(q, float64(n)) * 3600, true // a write a second
	}
	return 0, false
}

// judgeRisk fills s's LossSeen and FalseKillsPerHour, and turns an ok or
// fragile verdict into at-risk when the expected false kills reach
// AtRiskPerHour.
func judgeRisk(s *Socket) {
	p, ok := lossSeen(s.Info)
	if !ok || s.Settings == nil {
		return
	}
	k, ok := falseKillsPerHour(*s.Settings, s.Traffic, p)
	if !ok {
		return
	}
	s.LossSeen, s.FalseKillsPerHour, s.RiskKnown = p, k, true
	if k >= AtRiskPerHour && (s.Verdict == VerdictOK || s.Verdict == VerdictFragile) {
		s.Verdict = VerdictAtRisk
		s.Reason += fmt.Sprintf("; at the %.1f %% loss it has seen (retransmitted/sent), a live peer is declared dead ≈%.2g times an hour", 100*p, k)
	}
}
