package lab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/storm"
	"golang.org/x/sys/unix"
)

// stormSetup is what every round shares.
type stormSetup struct {
	cfg    StormConfig
	topo   *Topology
	plan   flatline.Plan
	k      storm.Keepalive
	hz     int
	ifname string // the router's interface towards the client
}

// RunStorm runs a storm in a fresh lab topology (root, network namespaces)
// and removes the topology afterwards, also on error and cancellation.
func RunStorm(ctx context.Context, cfg StormConfig) (*StormResult, error) {
	hz, err := storm.HostHZ()
	if err != nil {
		return nil, err
	}
	if cfg.Config.Timeout == 0 && cfg.Progress != nil {
		cfg.Progress("storm: choosing the timeout whose flatline bursts fit this host's CPU backlog")
	}
	cfg, plan, err := cfg.withDefaults(ctx, hz, netdevMaxBacklog())
	if err != nil {
		return nil, err
	}
	topo, err := New(ctx)
	if err != nil {
		return nil, err
	}
	defer topo.Close()
	// The endpoints get a transmit queue as real hosts have: without one,
	// TCP sees the veth refuse a burst and paces it itself (a refused
	// probe is retried HZ/2 later, uncounted), and static timers' lockstep
	// never reaches the router. Room for every connection's probe, as a
	// NIC draining at line rate never refuses a CPU's burst.
	if err := topo.HostQueues(cfg.Conns); err != nil {
		return nil, err
	}
	// The router receives on every CPU (RPS), as a NIC with RSS does: a
	// bucket of probes fired on one CPU lands in every CPU's backlog, and
	// the host passes CPUs times a backlog per tick whichever CPU fired.
	if err := topo.RouterOnAllCPUs(); err != nil {
		return nil, err
	}
	s := &stormSetup{cfg: cfg, topo: topo, plan: plan, hz: hz, k: storm.KeepaliveOf(plan.Settings)}
	if s.ifname, err = s.routerLinkTowards(topo.ClientAddr); err != nil {
		return nil, err
	}
	res := &StormResult{
		Conns: cfg.Conns, HZ: hz, SpreadS: plan.Spread.Seconds(),
		Keepalive: StormKeepalive{IdleS: s.k.Idle.Seconds(), IntervalS: s.k.Interval.Seconds(), Count: s.k.Count, UserTimeoutS: s.k.UserTimeout.Seconds()},
		ObserveS:  cfg.Observe.Seconds(), WindowS: kernel.Jiffy(hz).Seconds(),
		Backlog: netdevMaxBacklog(),
	}
	if q := s.hostQueue(); q != nil {
		res.HostPerTick = q.PerTick
	}
	res.PerSecond, res.Burst = cfg.PerSecond, cfg.Burst
	if res.PerSecond == 0 || res.Burst == 0 {
		rate, burst, err := s.derivePolice()
		if err != nil {
			return nil, err
		}
		if res.PerSecond == 0 {
			res.PerSecond = rate
		}
		if res.Burst == 0 {
			res.Burst = burst
		}
	}
	s.progress("storm: %d connections, keepalive %v/%v/%d, user timeout %v, spread %v, HZ=%d, policer %d/s burst %d",
		cfg.Conns, s.k.Idle, s.k.Interval, s.k.Count, s.k.UserTimeout, plan.Spread, hz, res.PerSecond, res.Burst)
	for i, st := range cfg.Strategies {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		r, err := s.round(ctx, st, uint16(20000+i), res.PerSecond, res.Burst)
		if err != nil {
			return res, fmt.Errorf("storm: %s: %w", st, err)
		}
		res.Strategies = append(res.Strategies, r)
	}
	return res, nil
}

// withDefaults fills in what c leaves zero; hz and backlog
// (net.core.netdev_max_backlog, 0 unknown) are the host's.
func (c StormConfig) withDefaults(ctx context.Context, hz, backlog int) (StormConfig, flatline.Plan, error) {
	if c.Conns == 0 {
		c.Conns = 2000
	}
	if c.Conns < 1 || c.Conns > 20000 {
		return c, flatline.Plan{}, fmt.Errorf("storm: %d connections: want 1 to 20000", c.Conns)
	}
	if c.Config.Count == 0 {
		c.Config.Count = stormCount
	}
	if c.Config.Timeout == 0 {
		t, err := defaultStormTimeout(ctx, c.Config, c.Conns, hz, backlog)
		if err != nil {
			return c, flatline.Plan{}, err
		}
		c.Config.Timeout = t
	}
	plan, err := c.Config.Plan()
	if err != nil {
		return c, plan, err
	}
	if c.Strategies == nil {
		c.Strategies = DefaultStormStrategies()
	}
	if c.Observe == 0 {
		s := plan.Settings
		c.Observe = plan.Spread + s.Idle + s.UserTimeout + 2*s.Idle
	}
	return c, plan, nil
}

// stormCount is the lab's TCP_KEEPCNT unless the Config sets one: three
// probes, as the story's storm had one and Go's default nine. The planner
// on its own picks more probes a second apart for long timeouts (loss
// tolerance); with fifteen even static timers recover from a storm on the
// lab's link before their user timeout, so the lab would compare nothing.
const stormCount = 3

// defaultStormTimeout is 10 s, or, when flatline's spreading of n
// connections with 10 s would put more probes in one tick than the host's
// CPU backlogs pass, the smallest timeout whose plan keeps them within:
// veth hands packets to its peer through a per-CPU backlog of
// netdev_max_backlog packets, and a bucket's probes and their answers go
// through the same backlogs (flatline plan --conns N --burst B searches
// the same way). Four fifths of the backlog leaves room for other traffic.
// flatline.DefaultTimeout is among the candidates (storm.Recommend's
// steps grow by a quarter and pass it by): when it fits and the steps
// would go past it, the lab runs the plan that `flatline plan --conns N`
// forecasts.
func defaultStormTimeout(ctx context.Context, cfg flatline.Config, n, hz, backlog int) (time.Duration, error) {
	cfg.Timeout = 10 * time.Second
	if backlog <= 0 {
		return cfg.Timeout, nil
	}
	tolerated := max(backlog*4/5, 1)
	r, err := storm.Recommend(ctx, cfg, n, hz, tolerated)
	if err != nil {
		return 0, err
	}
	if r == nil {
		return cfg.Timeout, nil
	}
	if r.Timeout > flatline.DefaultTimeout {
		cfg.Timeout = flatline.DefaultTimeout
		d, err := storm.Recommend(ctx, cfg, n, hz, tolerated)
		if err != nil {
			return 0, err
		}
		if d != nil {
			return min(r.Timeout, d.Timeout), nil
		}
	}
	return r.Timeout, nil
}

func (s *stormSetup) progress(format string, a ...any) {
	if s.cfg.Progress != nil {
		s.cfg.Progress(fmt.Sprintf(format, a...))
	}
}

// routerLinkTowards finds the router interface on the subnet of addr.
func (s *stormSetup) routerLinkTowards(addr netip.Addr) (string, error) {
	var name string
	err := s.topo.Router.Do(func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, ifc := range ifs {
			as, err := ifc.Addrs()
			if err != nil {
				return err
			}
			for _, a := range as {
				if n, ok := a.(*net.IPNet); ok {
					if p, err := netip.ParsePrefix(n.String()); err == nil && p.Contains(addr) {
						name = ifc.Name
						return nil
					}
				}
			}
		}
		return fmt.Errorf("storm: no router interface towards %v", addr)
	})
	return name, err
}

// derivePolice sizes the policer from the model: twice the packets
// (probes and answers) of flatline's predicted worst burst, and twice the
// average packet rate.
func (s *stormSetup) derivePolice() (perSecond, burst uint32, err error) {
	n := s.cfg.Conns
	worst := 0
	for seed := range 5 {
		conns, err := storm.Conns(storm.Flatline, s.k, s.plan.Spread, nil, n, rand.New(rand.NewPCG(uint64(seed), 7)))
		if err != nil {
			return 0, 0, err
		}
		r, err := storm.Model{Clock: storm.Clock{HZ: s.hz}, Horizon: s.cfg.Observe}.Run(conns)
		if err != nil {
			return 0, 0, err
		}
		worst = max(worst, storm.WorstBurst(r.Times(), r.Tick).Probes)
	}
	burst = uint32(2 * 2 * worst)
	perSecond = uint32(2 * 2 * float64(n) / s.k.Idle.Seconds())
	return max(perSecond, 1), max(burst, 1), nil
}

// roundClock is a round's time base: CLOCK_MONOTONIC from its start (the
// kernel timers' clock, the holders' too) and the wall clock at the same
// moment (the capture's timestamps).
type roundClock struct {
	zero     time.Duration
	realZero time.Time
	clock    storm.Clock
}

func newRoundClock(hz int) (roundClock, error) {
	zero, err := storm.Monotonic()
	if err != nil {
		return roundClock{}, err
	}
	c := roundClock{zero: zero, realZero: time.Now()}
	c.clock, err = storm.HostClock(hz, zero)
	return c, err
}

func (c roundClock) since() time.Duration {
	m, _ := storm.Monotonic()
	return m - c.zero
}

// at turns a holder's CLOCK_MONOTONIC nanoseconds into the round's time;
// negative stays -1 (never).
func (c roundClock) at(mono int64) time.Duration {
	if mono < 0 {
		return -1
	}
	return time.Duration(mono) - c.zero
}

// capture is the router's capture of a round, on the client side.
type capture struct {
	sn     *storm.Sniffer
	frames []storm.Frame
	done   chan struct{}
}

func (s *stormSetup) startCapture() (*capture, error) {
	c := &capture{done: make(chan struct{})}
	if err := s.topo.Router.Do(func() error {
		var err error
		c.sn, err = storm.Sniff(s.ifname)
		return err
	}); err != nil {
		return nil, err
	}
	go func() {
		defer close(c.done)
		for {
			f, err := c.sn.Read()
			if err != nil {
				return
			}
			c.frames = append(c.frames, f)
		}
	}()
	return c, nil
}

// stop ends the capture and returns its frames.
func (c *capture) stop() []storm.Frame {
	c.sn.Close()
	<-c.done
	return c.frames
}

// plans are the per-connection plans of a strategy other than flatline
// (whose draws the library makes); nil for flatline.
func (s *stormSetup) plans(st storm.Strategy) ([]storm.Plan, error) {
	if st == storm.Flatline {
		return nil, nil
	}
	planner := &storm.Planner{Strategy: st, Keepalive: s.k, Spread: s.plan.Spread}
	plans := make([]storm.Plan, s.cfg.Conns)
	for i := range plans {
		var err error
		if plans[i], err = planner.Next(); err != nil {
			return nil, err
		}
	}
	return plans, nil
}

// round runs one strategy: the holders open every connection without
// keepalive, then arm them all at once (connections made together, as the
// planner's model has them), the router polices ACK-only packets, and
// after Observe the probes, bursts and false deaths are counted and the
// model is run on the same creation and arming times.
func (s *stormSetup) round(ctx context.Context, st storm.Strategy, port uint16, perSecond, burst uint32) (StormStrategy, error) {
	res := StormStrategy{Name: st}
	clk, err := newRoundClock(s.hz)
	if err != nil {
		return res, err
	}
	plans, err := s.plans(st)
	if err != nil {
		return res, err
	}
	cap, err := s.startCapture()
	if err != nil {
		return res, err
	}
	defer cap.stop()
	hs, err := s.startHolders(st, port, plans)
	if err != nil {
		return res, err
	}
	defer hs.close()
	if _, err := hs.step(ctx, ""); err != nil { // every holder's connections open
		return res, err
	}
	s.progress("storm: %s: %d connections open in %v (%d holder processes)", st, s.cfg.Conns, clk.since().Round(time.Millisecond), len(hs.procs))
	backlog0, _ := softnetDrops()
	if err := s.topo.PoliceACKs(perSecond, burst); err != nil {
		return res, err
	}
	armed := clk.since()
	if _, err := hs.step(ctx, "arm"); err != nil {
		return res, err
	}
	s.progress("storm: %s: keepalive armed on every connection in %v, policer on, watching %v", st, (clk.since() - armed).Round(time.Millisecond), s.cfg.Observe)
	if err := s.watch(ctx, armed+s.cfg.Observe-clk.since()); err != nil {
		return res, err
	}
	end := clk.since()
	res.Policed, _ = s.topo.PolicedPackets()
	if err := s.topo.ClearPolice(); err != nil {
		return res, err
	}
	res.CaptureDrops, _ = cap.sn.Drops()
	if b, err := softnetDrops(); err == nil {
		res.BacklogDrops = b - backlog0
	}
	conns, err := hs.report(ctx, s.cfg.Conns)
	if err != nil {
		return res, err
	}
	hs.close() // the connections end before the capture stops
	for _, c := range conns {
		if at := clk.at(c.DeadAt); c.TimedOut && at >= 0 && at <= end {
			res.FalseDead++
			res.DeadTimes = append(res.DeadTimes, at)
		}
	}
	frames := cap.stop()
	s.countProbes(&res, frames, clk, end)
	if s.cfg.Frames != nil {
		s.cfg.Frames(st, frames)
	}
	if err := s.predict(&res, st, conns, clk, end, perSecond, burst); err != nil {
		return res, err
	}
	s.progress("storm: %s: %d probes, worst burst %d (model %d), %d falsely dead (model %d), %d policed, %d lost by the capture, %d by CPU backlogs",
		st, res.Probes, res.WorstBurst, res.PredictedWorstBurst, res.FalseDead, res.PredictedFalseDead, res.Policed, res.CaptureDrops, res.BacklogDrops)
	return res, nil
}

// watch waits d, saying every 10 s how long is left (a round at 20,000
// connections watches for half a minute or more).
func (s *stormSetup) watch(ctx context.Context, d time.Duration) error {
	end := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	done := time.NewTimer(d)
	defer done.Stop()
	for {
		select {
		case <-done.C:
			return nil
		case <-tick.C:
			s.progress("storm: watching, %v left", time.Until(end).Round(time.Second))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// countProbes finds the keepalive probes the router saw from the client
// up to end, their worst burst and histogram, which probes were lost
// (lostProbes), and the worst burst of the probes before their
// connection's first loss (storm.BeforeLoss).
func (s *stormSetup) countProbes(res *StormStrategy, frames []storm.Frame, clk roundClock, end time.Duration) {
	var d storm.Detector
	flows := map[storm.Flow][]time.Duration{}
	for _, f := range frames {
		seg, err := storm.DecodeSegment(storm.LinkEthernet, f.Data)
		if err != nil {
			continue
		}
		if d.Keepalive(seg) && seg.Flow.Src.Addr() == s.topo.ClientAddr {
			if t := f.At.Sub(clk.realZero); t <= end {
				res.ProbeTimes = append(res.ProbeTimes, t)
				flows[seg.Flow] = append(flows[seg.Flow], t)
			}
		}
	}
	window := kernel.Jiffy(s.hz)
	res.Probes = len(res.ProbeTimes)
	worst := storm.WorstBurst(res.ProbeTimes, window)
	res.WorstBurst = worst.Probes
	res.BinS = storm.DefaultBin().Seconds()
	res.Histogram = storm.Histogram(res.ProbeTimes, 0, storm.DefaultBin())
	res.ProbesMissing, res.ProbesUnanswered = lostProbes(flows, s.k)
	var before []time.Duration
	for _, ts := range flows {
		slices.Sort(ts)
		n := storm.BeforeLoss(ts, s.k)
		before = append(before, ts[:n]...)
		for _, t := range ts[n:] {
			res.ProbesAfterLoss++
			if worst.Probes > 0 && t >= worst.At && t-worst.At < window {
				res.WorstBurstAfterLoss++
			}
		}
	}
	res.WorstBurstBeforeLoss = storm.WorstBurst(before, window).Probes
}

// lostProbes counts lost probes from each connection's probe times at the
// router (storm.LostBetween): probes it saw that got no answer (lost
// beyond the capture, or their answers lost), and probes it never saw
// (lost in the sending host). Both 0 when the interval is not below the
// idle time.
func lostProbes(flows map[storm.Flow][]time.Duration, k storm.Keepalive) (missing, unanswered int) {
	for _, ts := range flows {
		slices.Sort(ts)
		for i := 1; i < len(ts); i++ {
			u, m, ok := storm.LostBetween(ts[i]-ts[i-1], k)
			if !ok {
				return 0, 0
			}
			missing += m
			if u {
				unanswered++
			}
		}
	}
	return missing, unanswered
}

// predict runs the model on the same connections: creation and arming
// times as they happened; for flatline the library's draws are unknown,
// so several.
func (s *stormSetup) predict(res *StormStrategy, st storm.Strategy, conns []holderConn, clk roundClock, end time.Duration, perSecond, burst uint32) error {
	m := storm.Model{Clock: clk.clock, Horizon: end, Police: &storm.Policer{PerSecond: float64(perSecond), Burst: int(burst)}, Host: s.hostQueue()}
	k := s.k
	draws := 1
	if st == storm.Flatline {
		draws = 7
	}
	visible := k.Interval < k.Idle
	var worsts, before, probes, dead []int
	for seed := range draws {
		r := rand.New(rand.NewPCG(uint64(seed), 11))
		mc := make([]storm.Conn, len(conns))
		for i, c := range conns {
			arm := clk.at(c.Armed)
			if st == storm.Flatline {
				arm += time.Duration(r.Int64N(int64(max(s.plan.Spread, 1))))
			}
			mc[i] = storm.Conn{Established: clk.at(c.Created), Arm: arm, Idle: time.Duration(c.Idle), Interval: k.Interval, Count: k.Count, UserTimeout: k.UserTimeout}
		}
		p, err := m.Run(mc)
		if err != nil {
			return err
		}
		worsts = append(worsts, storm.WorstBurst(p.Times(), p.Tick).Probes)
		before = append(before, storm.WorstBurst(p.TimesBeforeLoss(visible), p.Tick).Probes)
		probes = append(probes, len(p.Times()))
		dead = append(dead, p.FalseDead())
	}
	res.PredictedWorstBurst = median(worsts)
	res.PredictedRange = [2]int{slices.Min(worsts), slices.Max(worsts)}
	res.PredictedWorstBurstBeforeLoss = median(before)
	res.PredictedProbes = median(probes)
	res.PredictedFalseDead = median(dead)
	return nil
}

// hostQueue is the client host's limit on probes per tick: every CPU's
// backlog (kernel.BacklogBurst) when the host's netdev_max_backlog is
// known; nil otherwise.
func (s *stormSetup) hostQueue() *storm.HostQueue {
	b := netdevMaxBacklog()
	if b <= 0 {
		return nil
	}
	return &storm.HostQueue{PerTick: runtime.NumCPU() * kernel.BacklogBurst(b)}
}

func median(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func control(c net.Conn, fn func(fd int) error) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("storm: not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// softnetDrops reads the host's backlog drop counters (read only; they
// count every namespace).
func softnetDrops() (uint64, error) {
	f, err := os.Open("/proc/net/softnet_stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return storm.ParseSoftnetDrops(f)
}

// netdevMaxBacklog reads net.core.netdev_max_backlog (0 when unreadable).
func netdevMaxBacklog() int {
	b, err := os.ReadFile("/proc/sys/net/core/netdev_max_backlog")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// ensureFiles raises the soft RLIMIT_NOFILE to at least n (client and
// server ends of every connection), up to the hard limit.
func ensureFiles(n int) error {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		return os.NewSyscallError("getrlimit", err)
	}
	if l.Cur >= uint64(n) {
		return nil
	}
	if l.Max < uint64(n) {
		return fmt.Errorf("storm: %d open files needed, RLIMIT_NOFILE allows %d: raise it (ulimit -n) or use fewer connections", n, l.Max)
	}
	l.Cur = uint64(n)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		return os.NewSyscallError("setrlimit", err)
	}
	return nil
}
