package flatline

import (
	"fmt"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// Settings are the per-socket kernel options that decide how long a dead
// peer goes unnoticed, either as flatline sets them or as read back from a
// socket with ReadSettings.
type Settings struct {
	// KeepAlive is SO_KEEPALIVE.
	KeepAlive bool
	// Idle is TCP_KEEPIDLE: silence before the first keepalive probe, whole
	// seconds. Read back, it is the effective value (per socket, or the
	// namespace's net.ipv4.tcp_keepalive_time).
	Idle time.Duration
	// Interval is TCP_KEEPINTVL: time between probes, whole seconds.
	Interval time.Duration
	// Count is TCP_KEEPCNT: unanswered probes before the kernel gives up.
	// A non-zero UserTimeout replaces it (see Bounds).
	Count int
	// UserTimeout is TCP_USER_TIMEOUT, milliseconds; zero means none.
	UserTimeout time.Duration
	// SynCount is TCP_SYNCNT; zero means the namespace's
	// net.ipv4.tcp_syn_retries.
	SynCount int
	// RTOMax is TCP_RTO_MAX_MS (Linux 6.15+), milliseconds: the cap on
	// each backed-off retransmission timeout, so that the user timeout
	// holds enough retransmissions to ride out random loss (see
	// Plan.FalseKills). Zero means the kernel's (120 s). Kernels without
	// the option skip it when set and read it back as zero; elsewhere
	// than Linux it is not set.
	RTOMax time.Duration
}

// Host holds the kernel defaults of one network namespace that change how
// long a dead peer goes unnoticed.
type Host struct {
	Retries2          int           // net.ipv4.tcp_retries2
	SynRetries        int           // net.ipv4.tcp_syn_retries
	SynLinearTimeouts int           // net.ipv4.tcp_syn_linear_timeouts (6.x; 0 where absent)
	KeepaliveTime     time.Duration // net.ipv4.tcp_keepalive_time
	KeepaliveIntvl    time.Duration // net.ipv4.tcp_keepalive_intvl
	KeepaliveProbes   int           // net.ipv4.tcp_keepalive_probes
	// HZ is the kernel's timer frequency (CONFIG_HZ). Zero means unknown:
	// slack is then the largest over the common values 100, 250, 300, 1000.
	HZ int
	// Kernel is the kernel release (uname -r, e.g. "5.10.0-32-amd64"); ""
	// means unknown. KernelNotes says what that kernel cannot promise.
	Kernel string
}

// LinuxDefaults returns the defaults of a stock Linux kernel (the kernel
// model's): tcp_retries2 15, tcp_syn_retries 6, tcp_syn_linear_timeouts 4,
// keepalive 7200 s / 75 s / 9, HZ and version unknown.
func LinuxDefaults() Host {
	return Host{
		Retries2:          kernel.DefaultRetries2,
		SynRetries:        kernel.DefaultSynRetries,
		SynLinearTimeouts: kernel.DefaultSynLinearTimeouts,
		KeepaliveTime:     kernel.DefaultKeepaliveTime,
		KeepaliveIntvl:    kernel.DefaultKeepaliveIntvl,
		KeepaliveProbes:   kernel.DefaultKeepaliveProbes,
	}
}

// DefaultSettings returns the options a Linux socket has when nobody set
// any: keepalive off (with the host's keepalive sysctls should it be turned
// on), no user timeout, the host's SYN retries.
func (h Host) DefaultSettings() Settings {
	return Settings{Idle: h.KeepaliveTime, Interval: h.KeepaliveIntvl, Count: h.KeepaliveProbes}
}

// GoDialerSettings returns what a zero net.Dialer (Go 1.23 and later) sets
// on Linux: keepalive 15 s idle, 15 s interval, 9 probes, no user timeout.
func GoDialerSettings() Settings {
	return Settings{KeepAlive: true, Idle: 15 * time.Second, Interval: 15 * time.Second, Count: 9}
}

// State is what a connection is doing when its peer goes silent.
type State string

// The traffic states a Plan bounds.
const (
	StateIdle         State = "idle"          // nothing in flight, nothing arriving
	StateSending      State = "sending"       // data sent and not yet acknowledged
	StateReceiving    State = "receiving"     // only the peer sends; we only acknowledge
	StateClosedWindow State = "closed-window" // our data waits on a peer window that stays at zero
	StateConnecting   State = "connecting"    // SYN sent, no answer (dial into a dead path)
)

// States lists the states in the order Bounds reports them.
func States() []State {
	return []State{StateIdle, StateSending, StateReceiving, StateClosedWindow, StateConnecting}
}

// Bound is the worst case for noticing a silent peer in one state.
type Bound struct {
	State State
	// Never is true when the kernel never notices a silent peer in this
	// state (or only after longer than any application waits for).
	Never bool
	// Worst is the nominal worst case from the moment the peer goes silent,
	// when Never is false.
	Worst time.Duration
	// Slack is how late the kernel's timers may fire on top of Worst: the
	// timer wheel rounds each timer up to the granularity of its horizon.
	Slack time.Duration
	// LostProbes is how many keepalive probes may be lost in a row without
	// the connection being killed (idle and receiving states).
	LostProbes int
	// Rule says in one line which kernel rule decides.
	Rule string
}

// Deadline is Worst+Slack, the latest moment the error may arrive, and
// false when Never.
func (b Bound) Deadline() (time.Duration, bool) {
	if b.Never {
		return 0, false
	}
	return b.Worst + b.Slack, true
}

// String formats the bound for people: "23s (+1.02s slack)" or "never".
func (b Bound) String() string {
	if b.Never {
		return "never"
	}
	if b.Slack == 0 {
		return roundForPeople(b.Worst).String()
	}
	return fmt.Sprintf("%v (+%v slack)", roundForPeople(b.Worst), roundForPeople(b.Slack))
}

func roundForPeople(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// Bounds returns, for every State, the worst case to notice a silent peer on
// a Linux socket with these settings in a namespace with host's defaults,
// computed with the kernel model (internal/kernel, from
// net/ipv4/tcp_timer.c and kernel/time/timer.c):
//
//   - idle, receiving: keepalive fires Idle after the last segment received,
//     then every Interval after the previous firing, each up to a wheel
//     bucket late. Without a user timeout the connection dies at the firing
//     after Count probes; with one (U), at the first firing at least U after
//     the last receive with a probe out. The model simulates the sequence
//     over every lateness: Worst is Idle + n·Interval for the most probes n,
//     Slack the buckets of those firings, LostProbes the fewest probes less
//     one. Without keepalive: never.
//   - sending: retransmission, bounded by U when set, counted from the first
//     retransmission (FirstRetransmission after the first unacknowledged
//     send), else by the tcp_retries2 model (≈924.6 s for 15).
//   - closed window: since Linux 5.11 U, counted from the first zero-window
//     probe, also ends a connection whose peer keeps its window at zero;
//     without U, persist probes go on forever while the peer answers.
//   - connecting: U when set (it bounds SYN-SENT and overrides TCP_SYNCNT),
//     else the SYN schedule with tcp_syn_linear_timeouts.
//
// Slack is for host.HZ, or the worst over the common HZ values when zero.
func (s Settings) Bounds(h Host) Bounds {
	return Bounds{
		s.keepaliveBound(StateIdle, h),
		s.sendingBound(h),
		s.keepaliveBound(StateReceiving, h),
		s.closedWindowBound(h),
		s.connectingBound(h),
	}
}

func (s Settings) keepaliveBound(st State, h Host) Bound {
	if !s.KeepAlive {
		return Bound{State: st, Never: true, Rule: "keepalive off: nothing probes a silent peer"}
	}
	d, err := kernel.Options(s).Keepalive().Death(h.HZ)
	if err != nil {
		return Bound{State: st, Never: true, Rule: "keepalive idle or interval below the kernel's 1 s: " + err.Error()}
	}
	k := d.MaxProbes
	b := Bound{
		State:      st,
		Worst:      d.Nominal,
		Slack:      d.Slack,
		LostProbes: d.LostProbes(),
	}
	switch {
	case s.UserTimeout == 0:
		b.Rule = fmt.Sprintf("keepalive: %d probes after %v idle, %v apart", s.Count, s.Idle, s.Interval)
	case d.MinProbes != d.MaxProbes:
		b.Rule = fmt.Sprintf("keepalive, TCP_USER_TIMEOUT %v ends it after %d to %d probes, as late as the timers fire", s.UserTimeout, d.MinProbes, d.MaxProbes)
	case k != s.Count:
		b.Rule = fmt.Sprintf("keepalive, TCP_USER_TIMEOUT %v overrides count %d: dead at the %s firing", s.UserTimeout, s.Count, ordinal(k+1))
	default:
		b.Rule = fmt.Sprintf("keepalive %v + %d×%v, the first firing past TCP_USER_TIMEOUT %v", s.Idle, k, s.Interval, s.UserTimeout)
	}
	if b.Worst > kernel.NeverAfter {
		b.Never = true
	}
	return b
}

func ordinal(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return fmt.Sprintf("%dth", n)
	case n%10 == 1:
		return fmt.Sprintf("%dst", n)
	case n%10 == 2:
		return fmt.Sprintf("%dnd", n)
	case n%10 == 3:
		return fmt.Sprintf("%drd", n)
	}
	return fmt.Sprintf("%dth", n)
}

func (s Settings) sendingBound(h Host) Bound {
	if s.UserTimeout > 0 {
		return Bound{
			State: StateSending,
			// The user timeout counts from the first retransmission by
			// timeout (retrans_stamp), which comes a tail-loss probe and an
			// RTO after the first unacknowledged send. Measured with U=2.6 s:
			// a lone write died 3.041 s after the fault, a stream 2.818 s;
			// U=5 s: 5.601 s.
			Worst: FirstRetransmission + s.UserTimeout,
			Slack: kernel.UserTimeoutSlack(h.HZ, s.UserTimeout),
			Rule:  fmt.Sprintf("TCP_USER_TIMEOUT %v from the first retransmission by timeout, ≈%v after the first unacknowledged send", s.UserTimeout, FirstRetransmission),
		}
	}
	giveUp := FirstRetransmission + kernel.RetransmitGiveUp(h.Retries2, kernel.MinRTO, 0)
	return Bound{
		State: StateSending,
		Worst: giveUp,
		// A base RTO a little above the minimum moves the last firing
		// up to 120 s earlier: measured 937.95 s for one write with an
		// RTO of about 212 ms.
		Slack: kernel.Granularity(h.HZ, kernel.MaxRTO),
		Never: giveUp > kernel.NeverAfter,
		Rule:  fmt.Sprintf("no TCP_USER_TIMEOUT: tcp_retries2=%d, checked at backed-off retransmissions; keepalive does not probe a busy socket", h.Retries2),
	}
}

func (s Settings) closedWindowBound(h Host) Bound {
	if s.UserTimeout > 0 {
		return Bound{
			State: StateClosedWindow,
			// Counted from the first zero-window probe, which comes an
			// RTO or more after the window closed.
			Worst: FirstRetransmission + s.UserTimeout,
			Slack: kernel.UserTimeoutSlack(h.HZ, s.UserTimeout),
			Rule:  fmt.Sprintf("TCP_USER_TIMEOUT %v from the first zero-window probe ends a window that stays closed (Linux 5.11+)", s.UserTimeout),
		}
	}
	return Bound{
		State: StateClosedWindow,
		Never: true,
		Rule:  "no TCP_USER_TIMEOUT: persist probes go on while the peer answers with a zero window",
	}
}

func (s Settings) connectingBound(h Host) Bound {
	if s.UserTimeout > 0 {
		return Bound{
			State: StateConnecting,
			Worst: s.UserTimeout,
			Slack: kernel.SynUserTimeoutSlack(h.HZ, s.UserTimeout, h.SynLinearTimeouts),
			Rule:  fmt.Sprintf("TCP_USER_TIMEOUT %v bounds SYN-SENT (overrides TCP_SYNCNT)", s.UserTimeout),
		}
	}
	retries := s.SynCount
	if retries == 0 {
		retries = h.SynRetries
	}
	steps := kernel.SynTimeouts(retries, h.SynLinearTimeouts)
	var worst time.Duration
	for _, st := range steps {
		worst += st
	}
	rule := fmt.Sprintf("%d SYN retransmissions, 1 s doubling (no tcp_syn_linear_timeouts)", retries)
	if h.SynLinearTimeouts > 0 {
		rule = fmt.Sprintf("%d SYN retransmissions after %d linear 1 s timeouts (tcp_syn_linear_timeouts), then doubling", retries, h.SynLinearTimeouts)
	}
	return Bound{
		State: StateConnecting,
		Worst: worst,
		// Each SYN timer is armed from the previous firing: the wheel's
		// lateness adds up. Measured on Linux 6.18 (HZ=250, linear 4) into
		// a silent path: 3.06, 7.13, 19.35, 35.47, 69.52 and 135.06 s for
		// 1 to 6 retries (model 3, 7, 19, 35, 67, 131 s).
		Slack: kernel.SlackOf(h.HZ, steps),
		Rule:  rule,
	}
}

// FirstRetransmission is how long after the first unacknowledged send the
// kernel first retransmits by timeout, on a short path: a tail-loss probe
// and then one RTO. TCP_USER_TIMEOUT and the tcp_retries2 limit count from
// there.
const FirstRetransmission = kernel.FirstRetransmission

// Plan is a Config made concrete: the options flatline sets on each socket
// and, for every State, the worst case to notice a silent peer. It is the
// single source of truth that Dialer, ListenConfig and Configure apply and
// that the lab, the inspector and `flatline plan` compare against.
type Plan struct {
	// Timeout is the promise: Config.Timeout, or DefaultTimeout.
	Timeout time.Duration
	// Settings are the socket options applied. SynCount stays zero: the
	// user timeout bounds SYN-SENT on Linux and overrides TCP_SYNCNT.
	Settings Settings
	// ConnectTimeout is the dial deadline.
	ConnectTimeout time.Duration
	// Spread is the longest random delay before a new connection's
	// keepalive timer is re-armed.
	Spread time.Duration
	// JitterOffsets and JitterStep are how enforce and apply spread
	// connections instead, since they cannot wait to re-arm
	// (kernel.Jitter): each connection gets one of JitterOffsets offsets,
	// JitterStep apart (the timer wheel's bucket at Idle, whole seconds),
	// added to TCP_KEEPIDLE and TCP_USER_TIMEOUT together. The largest,
	// MaxJitter, is below Spread and fits in Timeout. One offset: none.
	JitterOffsets int
	JitterStep    time.Duration
	// Bounds holds one Bound per State, in the order of States. Idle and
	// receiving include Spread; the others, which the user timeout
	// decides, include MaxJitter; connecting is the earlier of that and
	// ConnectTimeout. They hold for the library's sockets and for
	// enforce's and apply's. Slack is for Host.HZ: the largest over the
	// common HZ values when it is zero (Config.Plan).
	Bounds Bounds
	// Host is what the bounds were computed for: LinuxDefaults for
	// Config.Plan, the host given to Config.PlanFor.
	Host Host
	// Notes says what this platform and its kernel cannot promise.
	Notes []string
}

// Bound returns the bound for state s, and a Never bound for a state the
// plan does not know.
func (p Plan) Bound(s State) Bound { return p.Bounds.Of(s) }

// Bounds holds one Bound per State, in the order of States, as
// Settings.Bounds and Plan.Bounds give them.
type Bounds []Bound

// Of returns the bound for state st, and a Never bound for a state bs
// does not hold.
func (bs Bounds) Of(st State) Bound {
	for _, b := range bs {
		if b.State == st {
			return b
		}
	}
	return Bound{State: st, Never: true, Rule: "no bound for state " + string(st)}
}

// MaxJitter is the largest offset enforce and apply add to a connection's
// TCP_KEEPIDLE and TCP_USER_TIMEOUT.
func (p Plan) MaxJitter() time.Duration {
	return time.Duration(max(p.JitterOffsets-1, 0)) * p.JitterStep
}

// LostProbes is how many keepalive probes in a row an idle connection may
// lose without being killed.
func (p Plan) LostProbes() int { return p.Bound(StateIdle).LostProbes }

func newPlan(d derived, h Host) Plan {
	p := Plan{
		Timeout:        d.timeout,
		Settings:       d.s,
		ConnectTimeout: d.connect,
		Spread:         d.spread,
		JitterOffsets:  d.jitterN,
		JitterStep:     d.jitterStep,
		Host:           h,
	}
	jitter := p.MaxJitter()
	for _, b := range d.s.Bounds(h) {
		switch b.State {
		case StateIdle, StateReceiving:
			if d.spread > 0 {
				b.Worst += d.spread
				b.Rule += fmt.Sprintf(", + spread up to %v", d.spread)
			}
		default:
			// The user timeout decides: enforce's jitter moves it.
			if jitter > 0 && !b.Never {
				b.Worst += jitter
				b.Rule += fmt.Sprintf(", + enforce's jitter up to %v", jitter)
			}
			if b.State != StateConnecting {
				break
			}
			if d.connect < b.Worst {
				b.Worst, b.Slack = d.connect, 0
				b.Rule = fmt.Sprintf("dial deadline %v", d.connect)
			}
		}
		p.Bounds = append(p.Bounds, b)
	}
	platformPlan(&p, h)
	return p
}
