package kernel

import (
	"fmt"
	"math"
	"time"
)

// Path is the network a connection runs over, as the false-kill model sees
// it: independent random loss each way, and the retransmission timer the
// path gives a socket.
type Path struct {
	// Loss is the probability that a packet is dropped, each way,
	// independently of every other packet: 0.01 for 1 %. In [0, 1).
	Loss float64
	// RTO is the socket's retransmission timeout before any backoff
	// (tcp_info's rto); zero means MinRTO (200 ms, a short path).
	RTO time.Duration
	// RTOMax caps each backed-off retransmission timeout (TCP_RTO_MAX_MS,
	// Linux 6.15+, 1 s to 120 s); zero means Options.RTOMax in FalseKills,
	// else MaxRTO (120 s, the kernel's own cap and the only one before
	// 6.15).
	RTOMax time.Duration
}

// Heartbeat is an application heartbeat over its own TCP connection (the
// liveness package): each end pings every Interval on average, no interval
// longer than MaxInterval, and fails the link after Deadline without
// hearing from the peer.
type Heartbeat struct {
	Interval, MaxInterval, Deadline time.Duration
}

// Exposure is one connection as the false-kill model sees it: its socket
// options, the kernel's defaults it falls back on, what it does, and the
// path.
type Exposure struct {
	Options Options
	// HZ is the kernel's tick rate; ≤ 0 (unknown) takes the worst rate
	// over CommonHZ.
	HZ int
	// Retries2 is tcp_retries2 (0: 15); SynRetries tcp_syn_retries (0: 6)
	// unless Options.SynCount is set; SynLinear tcp_syn_linear_timeouts.
	Retries2, SynRetries, SynLinear int
	// ConnectTimeout is the dial deadline (0: none).
	ConnectTimeout time.Duration
	// WriteEvery is how often a busy connection writes while nothing is
	// in flight (each write is one segment that must be acknowledged);
	// zero means once a second.
	WriteEvery time.Duration
	// Heartbeat, when Interval is set, runs over this connection.
	Heartbeat Heartbeat
	Path      Path
}

// Risk is how often a connection whose peer is alive is declared dead in
// one state, with random loss on the path.
type Risk struct {
	// PerHour is the expected false kills per connection-hour spent in
	// the state (connecting: per dial, one dial an hour).
	PerHour float64
	// PerTrial is the chance that one trial kills: a keepalive cycle (a
	// silent period of Idle), a write, a dial, a heartbeat ping.
	PerTrial float64
	// Trial names the trial PerTrial counts.
	Trial string
	// Exchanges is how many packet exchanges (probe and its answer,
	// segment and its acknowledgement) a trial has before it kills: all
	// of them must fail, each with 1 − (1 − Loss)².
	Exchanges int
	// OutageSurvived is the longest total outage (both ways) the
	// connection always survives, wherever in the state it starts.
	OutageSurvived time.Duration
	// Never is true when nothing in the state can kill a live connection
	// (no keepalive, no user timeout, no heartbeat).
	Never bool
	// Rule says in one line what decides.
	Rule string
}

// FalseKill is the false-kill model's answer for one connection, per
// state. Receiving is bounded by Idle: the peer's data restarts the
// keepalive clock, so a receiving connection runs at most as many
// keepalive cycles as an idle one.
type FalseKill struct {
	Idle, Receiving, Sending, Connecting Risk
	// Heartbeat is the heartbeat link's own risk when Exposure.Heartbeat
	// is set: its deadline, and its connection's user timeout on the
	// pings it writes (it is never idle long enough for keepalive).
	Heartbeat *Risk
}

// FalseKills is the false-kill model: for a connection whose peer is alive
// behind a path that drops packets at random (e.Path.Loss each way), the
// expected false kills per connection-hour and the longest total outage
// always survived, in every state, by the kernel's rules:
//
//   - idle (KeepaliveRisk): a keepalive cycle starts at the last segment
//     received; firings come Idle later and then every Interval, each up to
//     a wheel bucket late. A cycle kills when every probe exchange before
//     the killing firing failed: q^n with q = 1 − (1 − Loss)² and n the
//     probes sent, the fewest the timers' lateness allows with
//     TCP_USER_TIMEOUT (death at the first firing with elapsed ≥ U and a
//     probe out), Count without. Cycles come about once per Idle.
//   - sending (SendingRisk): a write's segment is sent, re-sent by a
//     tail-loss probe, then by the retransmission timer from the path's RTO,
//     doubling up to RTOMax, until TCP_USER_TIMEOUT after the first
//     retransmission (tcp_retries2's model without one). A write kills when
//     every transmission's exchange failed.
//   - connecting (ConnectRisk): SYNs at the kernel's SYN schedule until the
//     earliest of the user timeout, the dial deadline and the SYN retries.
//   - the heartbeat (HeartbeatRisk): a ping kills when its connection's user
//     timeout runs out (as sending) or when none of its transmissions gets
//     through within Deadline less the longest ping interval.
//
// It returns an error for a loss outside [0, 1) or options the kernel would
// not take.
func FalseKills(e Exposure) (FalseKill, error) {
	if !(e.Path.Loss >= 0 && e.Path.Loss < 1) {
		return FalseKill{}, fmt.Errorf("kernel: loss %v is not a probability below 1: use a value in [0, 1), e.g. 0.01 for 1 %%", e.Path.Loss)
	}
	if e.Path.RTOMax != 0 && (e.Path.RTOMax < time.Second || e.Path.RTOMax > MaxRTO) {
		return FalseKill{}, fmt.Errorf("kernel: RTO cap %v is outside TCP_RTO_MAX_MS's 1s to %v", e.Path.RTOMax, MaxRTO)
	}
	if e.Path.RTOMax == 0 {
		e.Path.RTOMax = e.Options.RTOMax // the socket's own cap
	}
	var f FalseKill
	idle, err := KeepaliveRisk(e.Options, e.HZ, e.Path.Loss)
	if err != nil {
		return FalseKill{}, err
	}
	f.Idle = idle
	f.Receiving = idle
	f.Sending = SendingRisk(e.Options.UserTimeout, e.retries2(), e.WriteEvery, e.Path)
	f.Connecting = e.connectRisk()
	if e.Heartbeat.Interval > 0 {
		h := HeartbeatRisk(e.Heartbeat, e.Options.UserTimeout, e.retries2(), e.Path)
		f.Heartbeat = &h
	}
	return f, nil
}

func (e Exposure) retries2() int {
	if e.Retries2 > 0 {
		return e.Retries2
	}
	return 15
}

func (e Exposure) connectRisk() Risk {
	retries := e.Options.SynCount
	if retries == 0 {
		retries = e.SynRetries
	}
	if retries == 0 {
		retries = 6
	}
	return ConnectRisk(retries, e.SynLinear, e.Options.UserTimeout, e.ConnectTimeout, e.Path.Loss)
}

// exchangeLoss is q: the chance that a packet or its answer is lost.
func exchangeLoss(p float64) float64 { return 1 - (1-p)*(1-p) }

// KeepaliveRisk is the idle state's false-kill risk for keepalive options o
// on a kernel with hz (≤ 0: the worst over CommonHZ) at random loss p each
// way. See FalseKills. Without keepalive nothing kills an idle connection.
func KeepaliveRisk(o Options, hz int, p float64) (Risk, error) {
	if !o.KeepAlive {
		return Risk{Never: true, Trial: "keepalive cycle", Rule: "keepalive off: nothing probes an idle connection"}, nil
	}
	k := o.Keepalive()
	perHour, n, err := k.falseKills(hz, p)
	if err != nil {
		return Risk{}, err
	}
	q := exchangeLoss(p)
	return Risk{
		PerHour:   perHour,
		PerTrial:  math.Pow(q, float64(n)),
		Trial:     "keepalive cycle",
		Exchanges: n,
		// An outage that misses one of the n probe exchanges of a cycle
		// lets it through; the n exchanges span at least (n−1)·Interval.
		OutageSurvived: time.Duration(n-1) * k.Interval,
		Rule:           fmt.Sprintf("a keepalive cycle (about every %v) kills when all %d probe exchanges are lost: q^%d, q = 1−(1−p)² = %.3g", max(k.Idle, k.Interval), n, n, q),
	}, nil
}

// IdleFalseKills is KeepaliveRisk's PerHour alone, without the rule's
// text: for planners that try many settings.
func IdleFalseKills(o Options, hz int, p float64) (float64, error) {
	perHour, _, err := o.Keepalive().falseKills(hz, p)
	return perHour, err
}

// falseKills is the idle false kills per hour and the probe exchanges of
// a cycle: the fewest probes the timers' lateness allows with a user
// timeout, Count without.
func (k Keepalive) falseKills(hz int, p float64) (float64, int, error) {
	d, err := k.Death(hz)
	if err != nil {
		return 0, 0, err
	}
	n := d.MinProbes
	if k.UserTimeout == 0 {
		n = max(k.Count, 1)
	}
	q := exchangeLoss(p)
	perTrial := math.Pow(q, float64(n))
	var perHour float64
	for _, w := range wheels(hz) {
		perHour = max(perHour, float64(time.Hour)*perTrial/float64(k.meanCycle(w, n, q)))
	}
	return perHour, n, nil
}

// meanCycle is the mean time from one segment received to the next
// (or to the kill) on wheel w: the cycle ends at the first of the n probe
// firings whose exchange succeeds, or at the killing firing. Each firing is
// late by half a bucket on average (the arming moment falls anywhere in a
// bucket). The first firing of a cycle after an answered probe is armed
// Idle − Interval ahead (the interval timer fires first and finds the
// connection quiet for less than Idle); with Interval ≥ Idle the interval
// timer's own firing probes.
func (k Keepalive) meanCycle(w Wheel, n int, q float64) time.Duration {
	late := func(ahead time.Duration) float64 { return float64(w.Duration(w.bucket(ahead)+1)) / 2 }
	var first float64
	if k.Interval < k.Idle {
		first = float64(k.Idle) + late(k.Idle-k.Interval)
	} else {
		first = float64(k.Interval) + late(k.Interval)
	}
	step := float64(k.Interval) + late(k.Interval)
	var mean, reach float64 = 0, 1 // reach: the chance the cycle gets to firing j
	at := first
	for range n {
		mean += reach * (1 - q) * at
		reach *= q
		at += step
	}
	mean += reach * at
	return time.Duration(mean)
}

// Transmissions returns when a segment written into a path that never
// answers is sent, from the write: the write itself, a tail-loss probe one
// MinRTO later, the first retransmission by timeout an RTO after that
// (retrans_stamp), then retransmissions 2·RTO, 4·RTO, ... apart (each at
// most path.RTOMax), until the user timeout u after the first
// retransmission, or without one until tcp_retries2's give-up.
func Transmissions(u time.Duration, retries2 int, path Path) []time.Duration {
	rto := max(path.RTO, MinRTO)
	rtoMax := path.RTOMax
	if rtoMax <= 0 {
		rtoMax = MaxRTO
	}
	first := MinRTO + rto
	limit := u
	if u <= 0 {
		limit = ModelTimeout(retries2, MinRTO)
	}
	at := []time.Duration{0, MinRTO, first}
	var s time.Duration
	for step := min(2*rto, rtoMax); ; step = min(2*step, rtoMax) {
		s += step
		if s >= limit || s > NeverAfter {
			return at
		}
		at = append(at, first+s)
	}
}

// BusyFalseKills is SendingRisk's PerHour alone, without building the
// schedule or the rule's text: for planners that try many caps.
func BusyFalseKills(u time.Duration, retries2 int, writeEvery time.Duration, path Path) float64 {
	if writeEvery <= 0 {
		writeEvery = time.Second
	}
	n := transmissionCount(u, retries2, path)
	return float64(time.Hour) / float64(writeEvery) * math.Pow(exchangeLoss(path.Loss), float64(n))
}

// transmissionCount is len(Transmissions(u, retries2, path)).
func transmissionCount(u time.Duration, retries2 int, path Path) int {
	rto := max(path.RTO, MinRTO)
	rtoMax := path.RTOMax
	if rtoMax <= 0 {
		rtoMax = MaxRTO
	}
	limit := u
	if u <= 0 {
		limit = ModelTimeout(retries2, MinRTO)
	}
	n := 3
	var s time.Duration
	for step := min(2*rto, rtoMax); ; step = min(2*step, rtoMax) {
		s += step
		if s >= limit || s > NeverAfter {
			return n
		}
		n++
	}
}

// SendingRisk is a busy connection's false-kill risk: one write every
// writeEvery (0: 1 s) while nothing is in flight, user timeout u (0: the
// tcp_retries2 model with retries2) on path. See FalseKills.
func SendingRisk(u time.Duration, retries2 int, writeEvery time.Duration, path Path) Risk {
	if writeEvery <= 0 {
		writeEvery = time.Second
	}
	at := Transmissions(u, retries2, path)
	q := exchangeLoss(path.Loss)
	r := Risk{
		PerTrial:       math.Pow(q, float64(len(at))),
		Trial:          "write",
		Exchanges:      len(at),
		OutageSurvived: at[len(at)-1],
	}
	r.PerHour = float64(time.Hour) / float64(writeEvery) * r.PerTrial
	limit := fmt.Sprintf("TCP_USER_TIMEOUT %v", u)
	if u <= 0 {
		limit = fmt.Sprintf("tcp_retries2=%d", retries2)
	}
	r.Rule = fmt.Sprintf("a write kills when its %d transmissions within %s (RTO %v doubling, capped at %v) are all lost", len(at), limit, max(path.RTO, MinRTO), capOf(path))
	return r
}

func capOf(p Path) time.Duration {
	if p.RTOMax > 0 {
		return p.RTOMax
	}
	return MaxRTO
}

// ConnectRisk is a dial's false-kill risk: SYNs on the schedule of
// SynTimeouts(retries, linear), until the user timeout u or the dial
// deadline (zero: none), whichever comes first. PerHour counts one dial an
// hour. See FalseKills.
func ConnectRisk(retries, linear int, u, deadline time.Duration, p float64) Risk {
	bound := SynGiveUp(retries, linear)
	if u > 0 {
		bound = min(bound, u)
	}
	if deadline > 0 {
		bound = min(bound, deadline)
	}
	// A SYN goes out at the dial and at every firing of the SYN timer
	// before the one that gives up.
	at := []time.Duration{0}
	var t time.Duration
	for _, s := range SynTimeouts(retries, linear) {
		t += s
		if t >= bound {
			break
		}
		at = append(at, t)
	}
	q := exchangeLoss(p)
	r := Risk{
		PerTrial:       math.Pow(q, float64(len(at))),
		Trial:          "dial",
		Exchanges:      len(at),
		OutageSurvived: at[len(at)-1],
	}
	r.PerHour = r.PerTrial
	r.Rule = fmt.Sprintf("a dial fails when its %d SYNs within %v are all lost (or their SYN-ACKs)", len(at), bound)
	return r
}

// HeartbeatRisk is the false-kill risk of a heartbeat h whose connection
// has user timeout u (0: tcp_retries2 with retries2) on path. A ping kills
// in two ways: its connection's user timeout runs out with every
// transmission's exchange lost (q^m, as SendingRisk, for each frame this
// end writes: its pings and its answers to the peer's), or none of its own
// transmissions reaches the peer within Deadline − MaxInterval (p^m, one
// way: the peer's last frame before it may be up to MaxInterval older).
// The second is an upper bound: answers to the other end's pings also
// count as heard.
func HeartbeatRisk(h Heartbeat, u time.Duration, retries2 int, path Path) Risk {
	maxIv := max(h.MaxInterval, h.Interval)
	kernel := SendingRisk(u, retries2, h.Interval/2, path)
	window := h.Deadline - maxIv
	var m int
	for _, t := range Transmissions(0, retries2, path) {
		if t >= window {
			break
		}
		m++
	}
	deadline := math.Pow(path.Loss, float64(m))
	if m == 0 {
		deadline = 1
	}
	pings := float64(time.Hour) / float64(h.Interval)
	r := Risk{
		PerTrial:       kernel.PerTrial*2 + deadline,
		Trial:          "ping",
		Exchanges:      min(kernel.Exchanges, m),
		PerHour:        kernel.PerHour + pings*deadline,
		OutageSurvived: min(kernel.OutageSurvived, heartbeatOutage(h, maxIv, retries2, path)),
	}
	r.Rule = fmt.Sprintf("a ping every %v kills when its %d transmissions within Deadline %v − %v are all lost one way, or when the connection's %d within its user timeout are", h.Interval, m, h.Deadline, maxIv, kernel.Exchanges)
	return r
}

// heartbeatOutage is the longest outage a heartbeat always survives on its
// deadline: an outage from time 0 to L swallows the first frame the peer
// sends in it (at x, at most MaxInterval after its last frame was heard),
// which is heard at its first transmission after L; the link survives if
// that comes before Deadline for every x.
func heartbeatOutage(h Heartbeat, maxIv time.Duration, retries2 int, path Path) time.Duration {
	at := Transmissions(0, retries2, path)
	survives := func(l time.Duration) bool {
		const steps = 200
		for i := range steps + 1 {
			x := maxIv * time.Duration(i) / steps
			if x >= l {
				break // sent after the outage: heard at once
			}
			heard := time.Duration(-1)
			for _, t := range at {
				if x+t >= l {
					heard = x + t
					break
				}
			}
			if heard < 0 || heard >= h.Deadline {
				return false
			}
		}
		return true
	}
	lo, hi := time.Duration(0), h.Deadline
	for hi-lo > time.Millisecond {
		mid := (lo + hi) / 2
		if survives(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo.Truncate(time.Millisecond)
}
