package kernel

import "time"

// The kernel's retransmission timeout limits (include/net/tcp.h).
const (
	MinRTO     = 200 * time.Millisecond // TCP_RTO_MIN
	MaxRTO     = 120 * time.Second      // TCP_RTO_MAX
	InitialRTO = time.Second            // TCP_TIMEOUT_INIT: the SYN's first timeout
)

// FirstRetransmission is how long after the first unacknowledged send the
// kernel first retransmits by timeout, on a short path: a tail-loss probe
// (2·srtt, plus 200 ms with a single segment out) and then one RTO (at
// least 200 ms). TCP_USER_TIMEOUT and the tcp_retries2 limit count from
// there (retrans_stamp). Longer paths add their round trips. Measured on
// Linux 6.18 over veth: one write into a blackhole with U=3 s saw the
// probe at 0.21 s, the first timeout at 0.42 s and ETIMEDOUT at 3.42 s.
const FirstRetransmission = 2 * MinRTO

// FirstRetransmissionOn is how long after a path goes silent the kernel
// first retransmits by timeout on a path with smoothed RTT srtt and
// retransmission timeout rto (TCP_INFO after the handshake):
// acknowledgements of data already past the cut keep arriving for up to a
// round trip (each re-arms the timer), then a tail-loss probe after
// 2·srtt (plus up to 200 ms with a single segment out), then one RTO. It
// is never below FirstRetransmission, the short-path figure. Measured
// (Linux 6.12, RTT 300 ms ± 30 ms, srtt 481 ms, RTO 1.70 s, U = 2.6 s): a
// busy connection died 5.82 s after the cut; this puts it at 3.35 s +
// 2.6 s = 5.95 s.
func FirstRetransmissionOn(srtt, rto time.Duration) time.Duration {
	return max(FirstRetransmission, 3*srtt+MinRTO+max(rto, MinRTO))
}

// NeverAfter is where a bound stops being a bound: a kernel that takes
// longer than this to notice is reported as never noticing.
const NeverAfter = 24 * time.Hour

// ModelTimeout is tcp_model_timeout: the time boundary retransmissions
// take when each timeout doubles from rtoBase, capped at TCP_RTO_MAX
// (924.6 s for tcp_retries2=15 from 200 ms; 2^(n+1)−1 s for n SYN retries
// from 1 s).
func ModelTimeout(boundary int, rtoBase time.Duration) time.Duration {
	var t time.Duration
	rto := rtoBase
	for range boundary + 1 {
		t += rto
		rto = min(2*rto, MaxRTO)
	}
	return t
}

// RetransmitGiveUp returns how long after the first retransmission by
// timeout (retrans_stamp, FirstRetransmission after the first
// unacknowledged send on a short path) a connection whose peer never
// answers is given up on, for a socket whose retransmission timeout starts
// at rto (tcp_info's rto before any backoff; zero means the 200 ms
// minimum). With a userTimeout the answer is userTimeout: the kernel clamps
// the timer to it. Without, the kernel ends the connection at the first
// backed-off retransmission firing (2·rto, 4·rto, ... capped at 120 s) at
// or past ModelTimeout(retries2, 200 ms) (924.6 s for 15). With rto = 200 ms
// that firing comes at 1044.4 s; a slightly larger rto can end it up to
// 120 s sooner.
func RetransmitGiveUp(retries2 int, rto, userTimeout time.Duration) time.Duration {
	if userTimeout > 0 {
		return userTimeout
	}
	if rto <= 0 {
		rto = MinRTO
	}
	limit := ModelTimeout(retries2, MinRTO)
	var t time.Duration
	for step := min(2*rto, MaxRTO); ; step = min(2*step, MaxRTO) {
		t += step
		if t >= limit || t > NeverAfter {
			return t
		}
	}
}

// RetransmitFirings returns the backed-off timeouts (2·rto, 4·rto, ...,
// capped at TCP_RTO_MAX) that RetransmitGiveUp adds up, in order: the
// horizons the wheel rounds.
func RetransmitFirings(retries2 int, rto time.Duration) []time.Duration {
	if rto <= 0 {
		rto = MinRTO
	}
	limit := ModelTimeout(retries2, MinRTO)
	var steps []time.Duration
	var t time.Duration
	for step := min(2*rto, MaxRTO); ; step = min(2*step, MaxRTO) {
		t += step
		steps = append(steps, step)
		if t >= limit || t > NeverAfter {
			return steps
		}
	}
}

// SynTimeouts returns the SYN retransmission timer's horizons, in order,
// for a connect into a silent path with retries SYN retries (TCP_SYNCNT or
// tcp_syn_retries) and linear tcp_syn_linear_timeouts (6.x; 0 before it):
// the first linear+1 timeouts stay at 1 s (tcp_retransmit_timer backs off
// only once total_rto exceeds it), then they double. The kernel gives up
// at the first firing where the retransmissions reach retries+linear
// (tcp_write_timeout) or the time since the first SYN reaches
// ModelTimeout(retries, 1 s) (retransmits_timed_out): 3, 7, 19, 35, 67 and
// 131 s for 1 to 6 retries with linear 4 (measured on Linux 6.18: 3.06,
// 7.13, 19.35, 35.47, 69.52, 135.06 s), 3, 7, 15, 31, 63, 127 s with
// linear 0.
func SynTimeouts(retries, linear int) []time.Duration {
	retries, linear = max(retries, 0), max(linear, 0)
	limit := ModelTimeout(retries, InitialRTO)
	var steps []time.Duration
	var t time.Duration
	rto := InitialRTO
	for n := 1; ; n++ { // n: the timer firing; n-1 retransmissions before it
		t += rto
		steps = append(steps, rto)
		if n-1 >= retries+linear || t >= limit {
			return steps
		}
		if n > linear {
			rto = min(2*rto, MaxRTO)
		}
	}
}

// SynGiveUp is the sum of SynTimeouts: how long a connect into a silent
// path lasts without a user timeout.
func SynGiveUp(retries, linear int) time.Duration {
	var t time.Duration
	for _, s := range SynTimeouts(retries, linear) {
		t += s
	}
	return t
}

// SlackOf is how late a chain of timers may end on a kernel with hz (≤ 0:
// unknown, the worst over CommonHZ): the sum of the wheel's granularity at
// each horizon, since each timer is armed from the previous firing.
func SlackOf(hz int, horizons []time.Duration) time.Duration {
	var worst time.Duration
	for _, w := range wheels(hz) {
		var s time.Duration
		for _, h := range horizons {
			s += w.Granularity(h)
		}
		worst = max(worst, s)
	}
	return worst
}

// UserTimeoutSlack is how late a user-timeout death of sent data may come
// on top of FirstRetransmission + u: the probe and first RTO timers (armed
// 200 ms ahead), and the last retransmission timer, clamped to the
// deadline (tcp_clamp_rto_to_user_timeout) and armed as far ahead as the
// time left after the last backed-off firing, plus four ticks of softirq
// delay.
func UserTimeoutSlack(hz int, u time.Duration) time.Duration {
	var at time.Duration
	for rto := 2 * MinRTO; at+rto < u; rto = min(2*rto, MaxRTO) {
		at += rto
	}
	return 2*Granularity(hz, MinRTO) + Granularity(hz, u-at) + 4*Jiffy(hz)
}

// SynUserTimeoutSlack is how late a connect into a silent path may end
// after a user timeout u (which bounds SYN-SENT): the SYN timer's firings
// up to u (the first linear+1 at 1 s, then doubling), the last one clamped
// to what is left of u (tcp_clamp_rto_to_user_timeout), each armed from
// the previous firing and up to a wheel bucket late, plus four ticks of
// softirq delay. Measured on Linux 6.18 (HZ=250, linear 4): U = 3 s ended
// at 3.01-3.03 s, the third SYN firing.
func SynUserTimeoutSlack(hz int, u time.Duration, linear int) time.Duration {
	var horizons []time.Duration
	var t time.Duration
	rto := InitialRTO
	for n := 1; t < u; n++ {
		step := min(rto, u-t)
		horizons = append(horizons, step)
		t += step
		if n > linear {
			rto = min(2*rto, MaxRTO)
		}
	}
	return SlackOf(hz, horizons) + 4*Jiffy(hz)
}

// BaseRTO is a socket's retransmission timeout before backoff: tcpi_rto
// (rto) halved once per tcpi_backoff step, never below MinRTO (the kernel
// never goes below it). Zero rto (unknown) gives MinRTO.
func BaseRTO(rto time.Duration, backoff int) time.Duration {
	return max(rto>>min(max(backoff, 0), 62), MinRTO)
}

// Retransmitting is what the kernel reports of a socket retransmitting
// unacknowledged data (tcp_info and inet_diag's timer).
type Retransmitting struct {
	// RTO is tcpi_rto: the retransmission timeout, doubled once per
	// backoff step; zero when unknown (no tcp_info): the 200 ms minimum.
	RTO time.Duration
	// Backoff is tcpi_backoff: the timeouts taken since the last ACK.
	Backoff int
	// Expires is when the pending timer fires, from now (inet_diag).
	Expires time.Duration
}

// RetransmitLeft is how long from now until the kernel gives up on data
// in flight on a socket in state r, for tcp_retries2 retries2 and user
// timeout userTimeout (0: none). The kernel counts both limits from the
// first retransmission by timeout (retrans_stamp) and checks only at its
// retransmission firings; the count lasts RetransmitGiveUp for the
// socket's initial RTO (RTO >> Backoff, at least MinRTO). Before any
// timeout (Backoff 0) the pending timer may be a tail-loss probe, after
// which a full initial RTO comes before the count starts (measured on
// Linux 6.18 over loopback, U = 3 s: probe 0.21 s, first timeout 0.42 s,
// ETIMEDOUT 3.42 s). After k timeouts, the firings before the current
// one took 2·base, 4·base, ... (RetransmitFirings) and the current one
// has run RTO − Expires. It returns the time left, the count's length and
// how much of it has passed (zero before the first timeout). The wheel's
// lateness is not in it: add the bound's slack.
func RetransmitLeft(retries2 int, userTimeout time.Duration, r Retransmitting) (left, total, counted time.Duration) {
	backoff := min(max(r.Backoff, 0), 62)
	base := BaseRTO(r.RTO, backoff)
	total = RetransmitGiveUp(retries2, base, userTimeout)
	if backoff == 0 {
		return r.Expires + base + total, total, 0
	}
	firings := RetransmitFirings(retries2, base)
	for _, f := range firings[:min(backoff-1, len(firings))] {
		counted += f
	}
	counted += max(r.RTO-r.Expires, 0)
	return max(total-counted, r.Expires), total, counted
}

// SynElapsed is how long a connect into a silent path has been running
// after k SYN retransmissions: the first k timeouts of SynTimeouts.
func SynElapsed(retries, linear, k int) time.Duration {
	var t time.Duration
	for i, st := range SynTimeouts(retries, linear) {
		if i >= k {
			break
		}
		t += st
	}
	return t
}
