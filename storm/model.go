package storm

import (
	"container/heap"
	"errors"
	"fmt"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// Conn is one connection's keepalive timer as the model sees it. Times are
// offsets from the start of a run.
type Conn struct {
	// Established is when the connection last received a segment before
	// keepalive was armed (the handshake); it must not be after Arm.
	Established time.Duration
	// Arm is when keepalive was armed with a full Idle: SO_KEEPALIVE turned
	// on (or off and on again). The first firing is Arm + Idle, rounded up
	// to the timer wheel's bucket.
	Arm time.Duration
	// Idle is TCP_KEEPIDLE, Interval TCP_KEEPINTVL (whole seconds in the
	// kernel; the model takes them as given).
	Idle, Interval time.Duration
	// Count is TCP_KEEPCNT: unanswered probes before the kernel gives up,
	// used only when UserTimeout is zero. Zero means 1.
	Count int
	// UserTimeout is TCP_USER_TIMEOUT; when set it replaces Count: the
	// connection dies at the first firing at least UserTimeout after the
	// last receive with a probe out.
	UserTimeout time.Duration
}

// Clock ties a run's time zero to the kernel's jiffies, which decide where
// bucket boundaries fall. The zero Clock puts time zero on a tick at jiffy
// zero: right for comparing strategies, off by up to a bucket for a single
// burst's position.
type Clock struct {
	HZ int
	// Jiffies is the jiffies value of the last tick at or before time zero.
	Jiffies int64
	// SinceTick is how long after that tick time zero is, in [0, 1 jiffy).
	SinceTick time.Duration
}

// wheel is the kernel model's wheel at c.HZ; Model.Run checks HZ first.
func (c Clock) wheel() kernel.Wheel { return kernel.MustWheel(c.HZ) }

func (c Clock) jiffyAt(t time.Duration) int64 {
	j := kernel.Jiffy(c.HZ)
	x := t + c.SinceTick
	q := int64(x / j)
	if x < 0 && x%j != 0 {
		q--
	}
	return c.Jiffies + q
}

func (c Clock) timeOf(jiffy int64) time.Duration {
	return c.wheel().Duration(jiffy-c.Jiffies) - c.SinceTick
}

// Policer is a token bucket in the path, as nftables "limit rate over R/second
// burst B packets" drops: it holds Burst packets and refills at PerSecond.
// Probes and their answers both pass it.
type Policer struct {
	PerSecond float64
	Burst     int
}

// Model predicts when the kernel sends keepalive probes for a set of
// healthy connections (every probe answered within the same tick unless a
// Policer drops it or its answer).
type Model struct {
	Clock Clock
	// Horizon is how long to simulate from time zero.
	Horizon time.Duration
	// Police, when set, drops probes and answers over its rate: dropped
	// probes lead to retries and possibly false deaths.
	Police *Policer
	// Host, when set, is the sending host's limit on probes leaving in
	// one tick; the probes over it are lost before the Policer sees them.
	Host *HostQueue
}

// HostQueue is how many probes the sending host passes in one tick: its
// CPUs times kernel.BacklogBurst of net.core.netdev_max_backlog for a host
// whose packets cross a veth (the lab), when the timers of a burst are on
// every CPU. The probes over it went out as far as TCP knows (the host's
// qdisc took them) and are never answered.
type HostQueue struct {
	PerTick int
}

// Probe is one keepalive probe the model predicts.
type Probe struct {
	Conn int           // index into the connections given to Run
	At   time.Duration // when the probe leaves, from time zero (a tick)
	Lost bool          // the probe or its answer was dropped by the policer or the host
	// Cut is set when the sending host dropped the probe (Model.Host):
	// it never reached the wire.
	Cut bool
}

// Result is a model run: every probe in time order and which connections
// the kernel declares dead.
type Result struct {
	Probes []Probe
	// Dead holds, per connection, when it was declared dead (ETIMEDOUT), or
	// -1 when it survived the horizon.
	Dead []time.Duration
	// Tick is the length of one jiffy: the unit of Worst.
	Tick time.Duration
}

// ErrBadConn reports a connection the model cannot run.
var ErrBadConn = errors.New("storm: bad connection")

type timer struct {
	conn      int
	at        int64 // next firing, jiffies
	lastRcv   int64
	probesOut int
	idle, ivl int64
	count     int
	user      int64
	probe     int // index in Result.Probes of the probe awaiting an answer
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].conn < h[j].conn
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(*timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Run runs the keepalive timers of conns on the timer wheel until the
// horizon: each firing is the kernel model's (kernel.KeepaliveFire, which
// is tcp_keepalive_timer: re-arm for the rest of Idle, probe and re-arm
// Interval later, or kill) and each re-arm lands where the model's wheel
// puts it (Wheel.Expiry); this adds only the many connections, their
// order within a tick and the policer. An answered probe resets the last
// receive to the probe's tick. Within a tick
// all probes pass the policer first, then their answers, in connection
// order.
func (m Model) Run(conns []Conn) (Result, error) {
	if _, err := kernel.NewWheel(m.Clock.HZ); err != nil {
		return Result{}, fmt.Errorf("storm: model needs the kernel's HZ (Clock.HZ): %w", err)
	}
	w := m.Clock.wheel()
	res := Result{Dead: make([]time.Duration, len(conns)), Tick: w.Jiffy()}
	h := make(timerHeap, 0, len(conns))
	for i, c := range conns {
		res.Dead[i] = -1
		if c.Idle <= 0 || c.Interval <= 0 || c.Established > c.Arm {
			return Result{}, fmt.Errorf("%w %d: idle %v, interval %v, established %v after arm %v", ErrBadConn, i, c.Idle, c.Interval, c.Established, c.Arm)
		}
		cnt := c.Count
		if cnt <= 0 {
			cnt = 1
		}
		armed := m.Clock.jiffyAt(c.Arm)
		t := &timer{
			conn: i, lastRcv: m.Clock.jiffyAt(c.Established),
			idle: w.Jiffies(c.Idle), ivl: w.Jiffies(c.Interval), count: cnt,
			user: w.Jiffies(c.UserTimeout),
		}
		t.at = w.Expiry(armed, t.idle)
		h = append(h, t)
	}
	heap.Init(&h)
	end := m.Clock.jiffyAt(m.Horizon)
	police := newTokenBucket(m.Police, m.Clock.jiffyAt(0), w.HZ())
	take := police.take
	host := &hostCut{q: m.Host}
	leaves := host.leaves
	var batch []*timer // probes sent in the current tick, awaiting answers
	flush := func() {
		for _, t := range batch {
			if take(t.at) {
				t.lastRcv = t.at
				t.probesOut = 0
			} else {
				res.Probes[t.probe].Lost = true
			}
		}
		for _, t := range batch {
			t.at = w.Expiry(t.at, t.ivl)
			heap.Push(&h, t)
		}
		batch = batch[:0]
	}
	for h.Len() > 0 || len(batch) > 0 {
		if h.Len() == 0 {
			flush()
			continue
		}
		t := heap.Pop(&h).(*timer)
		if len(batch) > 0 && t.at != batch[0].at {
			heap.Push(&h, t)
			flush()
			continue
		}
		if t.at > end {
			break
		}
		step, ahead := kernel.KeepaliveFire(t.at-t.lastRcv, t.idle, t.ivl, t.user, t.probesOut, t.count)
		switch step {
		case kernel.KeepaliveRearm:
			t.at = w.Expiry(t.at, ahead)
			heap.Push(&h, t)
			continue
		case kernel.KeepaliveKill:
			res.Dead[t.conn] = m.Clock.timeOf(t.at)
			continue
		}
		t.probesOut++
		p := Probe{Conn: t.conn, At: m.Clock.timeOf(t.at)}
		p.Cut = !leaves(t.at)
		if p.Cut || !take(t.at) {
			p.Lost = true
			res.Probes = append(res.Probes, p)
			t.at = w.Expiry(t.at, ahead)
			heap.Push(&h, t)
			continue
		}
		t.probe = len(res.Probes)
		res.Probes = append(res.Probes, p)
		batch = append(batch, t)
	}
	return res, nil
}

// tokenBucket is a Policer during a run, in jiffies; a nil Policer passes
// everything.
type tokenBucket struct {
	p      *Policer
	hz     int
	tokens float64
	last   int64
}

func newTokenBucket(p *Policer, start int64, hz int) *tokenBucket {
	b := &tokenBucket{p: p, hz: hz, last: start}
	if p != nil {
		b.tokens = float64(p.Burst)
	}
	return b
}

// take says whether a packet at jiffy now passes.
func (b *tokenBucket) take(now int64) bool {
	if b.p == nil {
		return true
	}
	b.tokens = min(b.tokens+float64(now-b.last)*b.p.PerSecond/float64(b.hz), float64(b.p.Burst))
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// hostCut counts the probes of the current tick against a HostQueue; a
// nil one passes everything.
type hostCut struct {
	q    *HostQueue
	tick int64
	n    int
}

// leaves says whether a probe sent at jiffy now leaves the host.
func (c *hostCut) leaves(now int64) bool {
	if c.q == nil || c.q.PerTick <= 0 {
		return true
	}
	if now != c.tick {
		c.tick, c.n = now, 0
	}
	c.n++
	return c.n <= c.q.PerTick
}

// FalseDead counts connections declared dead although the peer was alive.
func (r Result) FalseDead() int {
	n := 0
	for _, d := range r.Dead {
		if d >= 0 {
			n++
		}
	}
	return n
}

// Times returns the times of the probes that reached the wire (all but
// those the sending host cut).
func (r Result) Times() []time.Duration {
	ts := make([]time.Duration, 0, len(r.Probes))
	for _, p := range r.Probes {
		if !p.Cut {
			ts = append(ts, p.At)
		}
	}
	return ts
}
