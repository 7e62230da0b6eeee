package diag

import (
	"fmt"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
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

// falseKillsPerHour is the false-kill model's (kernel.FalseKills)
// expected kills per hour of a socket with settings s in state st, its peer
// alive, at loss p each way, on host h (its HZ and tcp_retries2), with rto
// the socket's retransmission timeout before backoff (zero: the minimum);
// ok false for a state it does not cover (connecting, closed window). An
// idle or receiving socket takes the keepalive cycle's risk; a sending one
// a write's, one write a second.
func falseKillsPerHour(s flatline.Settings, st flatline.State, p float64, h flatline.Host, rto time.Duration) (float64, bool) {
	o := kernel.Options(s)
	switch st {
	case flatline.StateIdle, flatline.StateReceiving:
		r, err := kernel.KeepaliveRisk(o, h.HZ, p)
		if err != nil {
			return 0, false
		}
		return r.PerHour, true
	case flatline.StateSending:
		retries2 := h.Retries2
		if retries2 <= 0 {
			retries2 = kernel.DefaultRetries2
		}
		return kernel.SendingRisk(s.UserTimeout, retries2, time.Second, kernel.Path{Loss: p, RTO: rto}).PerHour, true
	}
	return 0, false
}

// judgeRisk fills s's LossSeen and FalseKillsPerHour, and turns an ok or
// fragile verdict into at-risk when the expected false kills reach
// AtRiskPerHour.
func judgeRisk(s *Socket, h flatline.Host) {
	p, ok := lossSeen(s.Info)
	if !ok || s.Settings == nil {
		return
	}
	rto := kernel.BaseRTO(time.Duration(s.Info.RTO)*time.Microsecond, int(s.Info.Backoff))
	k, ok := falseKillsPerHour(*s.Settings, s.Traffic, p, h, rto)
	if !ok {
		return
	}
	s.LossSeen, s.FalseKillsPerHour, s.RiskKnown = p, k, true
	if k >= AtRiskPerHour && (s.Verdict == VerdictOK || s.Verdict == VerdictFragile) {
		s.Verdict = VerdictAtRisk
		s.Reason += fmt.Sprintf("; at the %.1f %% loss it has seen (retransmitted/sent), a live peer is declared dead ≈%.2g times an hour", 100*p, k)
	}
}
