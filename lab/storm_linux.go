package lab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	cfg, plan, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	hz, err := storm.HostHZ()
	if err != nil {
		return nil, err
	}
	if err := ensureFiles(2*cfg.Conns + 256); err != nil {
		return nil, err
	}
	topo, err := New(ctx)
	if err != nil {
		return nil, err
	}
	defer topo.Close()
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

func (c StormConfig) withDefaults() (StormConfig, flatline.Plan, error) {
	if c.Conns == 0 {
		c.Conns = 2000
	}
	if c.Conns < 1 || c.Conns > 20000 {
		return c, flatline.Plan{}, fmt.Errorf("storm: %d connections: want 1 to 20000", c.Conns)
	}
	if c.Config.Timeout == 0 {
		c.Config.Timeout = 10 * time.Second
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

// conn is one client connection of a round.
type labConn struct {
	mu      sync.Mutex // armed, written by the re-arm timer
	c       net.Conn
	created time.Duration // from the round's zero, CLOCK_MONOTONIC
	armed   time.Duration // when keepalive was (re-)armed with a full idle; -1 unknown
	idle    time.Duration
	deadAt  time.Duration // -1: alive
	err     error
}

func (s *stormSetup) round(ctx context.Context, st storm.Strategy, port uint16, perSecond, burst uint32) (StormStrategy, error) {
	res := StormStrategy{Name: st}
	n := s.cfg.Conns
	zero, err := storm.Monotonic()
	if err != nil {
		return res, err
	}
	realZero := time.Now()
	since := func() time.Duration {
		m, _ := storm.Monotonic()
		return m - zero
	}
	clock, err := storm.HostClock(s.hz, zero)
	if err != nil {
		return res, err
	}

	// Server: accepts and holds connections; its kernel answers probes.
	var ln net.Listener
	srvAddr := netip.AddrPortFrom(s.topo.ServerAddr, port)
	if err := s.topo.Server.Do(func() error {
		var err error
		ln, err = (&net.ListenConfig{KeepAlive: -1}).Listen(ctx, "tcp", srvAddr.String())
		return err
	}); err != nil {
		return res, err
	}
	defer ln.Close()
	accepted := make(chan net.Conn, n)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var srvConns []net.Conn
	defer func() {
		for _, c := range srvConns {
			c.Close()
		}
	}()

	// Capture in the router, on the client side.
	var sn *storm.Sniffer
	if err := s.topo.Router.Do(func() error {
		var err error
		sn, err = storm.Sniff(s.ifname)
		return err
	}); err != nil {
		return res, err
	}
	defer sn.Close()
	var frames []storm.Frame
	capDone := make(chan struct{})
	go func() {
		defer close(capDone)
		for {
			f, err := sn.Read()
			if err != nil {
				return
			}
			frames = append(frames, f)
		}
	}()

	// Client: n connections opened at once.
	conns := make([]*labConn, n)
	planner := &storm.Planner{Strategy: st, Keepalive: s.k, Spread: s.plan.Spread}
	plans := make([]storm.Plan, n)
	if st != storm.Flatline {
		for i := range plans {
			if plans[i], err = planner.Next(); err != nil {
				return res, err
			}
		}
	}
	var closeOnce sync.Once
	closeAll := func() {
		closeOnce.Do(func() {
			for _, c := range conns {
				if c != nil && c.c != nil {
					c.c.Close()
				}
			}
		})
	}
	defer closeAll()
	var timers []*time.Timer
	var timersMu sync.Mutex
	defer func() {
		timersMu.Lock()
		for _, t := range timers {
			t.Stop()
		}
		timersMu.Unlock()
	}()
	const workers = 4
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = s.topo.Client.Do(func() error {
				for i := w; i < n; i += workers {
					lc, err := s.dial(ctx, st, srvAddr.String(), plans[i], since)
					if err != nil {
						return err
					}
					conns[i] = lc
					if st != storm.Flatline && plans[i].Delay > 0 {
						timersMu.Lock()
						timers = append(timers, time.AfterFunc(plans[i].Delay, func() { rearm(lc, since) }))
						timersMu.Unlock()
					}
				}
				return nil
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for len(srvConns) < n {
		select {
		case c := <-accepted:
			srvConns = append(srvConns, c)
		case <-deadline.C:
			return res, fmt.Errorf("server accepted %d of %d connections in 30s", len(srvConns), n)
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	opened := since()
	backlog0, _ := softnetDrops()
	if err := s.topo.PoliceACKs(perSecond, burst); err != nil {
		return res, err
	}
	s.progress("storm: %s: %d connections open in %v, policer on, watching %v", st, n, opened.Round(time.Millisecond), s.cfg.Observe)

	// Watch: a read returns only when the kernel declares the peer dead.
	var mu sync.Mutex
	for _, lc := range conns {
		go func() {
			buf := make([]byte, 1)
			_, err := lc.c.Read(buf)
			at := since()
			mu.Lock()
			lc.err, lc.deadAt = err, at
			mu.Unlock()
		}()
	}
	watch := time.NewTimer(opened + s.cfg.Observe - since())
	select {
	case <-watch.C:
	case <-ctx.Done():
		watch.Stop()
		return res, ctx.Err()
	}
	end := since()
	res.Policed, _ = s.topo.PolicedPackets()
	if err := s.topo.ClearPolice(); err != nil {
		return res, err
	}
	res.CaptureDrops, _ = sn.Drops()
	if b, err := softnetDrops(); err == nil {
		res.BacklogDrops = b - backlog0
	}
	mu.Lock()
	for _, lc := range conns {
		if lc.err != nil && lc.deadAt <= end && errors.Is(lc.err, syscall.ETIMEDOUT) {
			res.FalseDead++
			res.DeadTimes = append(res.DeadTimes, lc.deadAt)
		}
	}
	mu.Unlock()
	sn.Close()
	<-capDone

	// Probes seen in the router, client to server.
	var d storm.Detector
	for _, f := range frames {
		seg, err := storm.DecodeSegment(storm.LinkEthernet, f.Data)
		if err != nil {
			continue
		}
		if d.Keepalive(seg) && seg.Flow.Src.Addr() == s.topo.ClientAddr {
			if t := f.At.Sub(realZero); t <= end {
				res.ProbeTimes = append(res.ProbeTimes, t)
			}
		}
	}
	if s.cfg.Frames != nil {
		s.cfg.Frames(st, frames)
	}
	tick := kernel.Jiffy(s.hz)
	res.Probes = len(res.ProbeTimes)
	res.WorstBurst = storm.WorstBurst(res.ProbeTimes, tick).Probes
	res.BinS = (256 * time.Millisecond).Seconds()
	res.Histogram = storm.Histogram(res.ProbeTimes, 0, 256*time.Millisecond)

	// The model on the same connections: creation and arming times as they
	// happened; for flatline the library's draws are unknown, so several.
	m := storm.Model{Clock: clock, Horizon: end, Police: &storm.Policer{PerSecond: float64(perSecond), Burst: int(burst)}}
	var preds []storm.Result
	if st == storm.Flatline {
		for seed := range 7 {
			r := rand.New(rand.NewPCG(uint64(seed), 11))
			mc := make([]storm.Conn, n)
			for i, lc := range conns {
				mc[i] = storm.Conn{Established: lc.created, Arm: lc.created + time.Duration(r.Int64N(int64(max(s.plan.Spread, 1)))), Idle: s.k.Idle, Interval: s.k.Interval, Count: s.k.Count, UserTimeout: s.k.UserTimeout}
			}
			p, err := m.Run(mc)
			if err != nil {
				return res, err
			}
			preds = append(preds, p)
		}
	} else {
		mc := make([]storm.Conn, n)
		for i, lc := range conns {
			lc.mu.Lock()
			armed := lc.armed
			lc.mu.Unlock()
			mc[i] = storm.Conn{Established: lc.created, Arm: armed, Idle: lc.idle, Interval: s.k.Interval, Count: s.k.Count, UserTimeout: s.k.UserTimeout}
		}
		p, err := m.Run(mc)
		if err != nil {
			return res, err
		}
		preds = append(preds, p)
	}
	var worsts, probes, dead []int
	for _, p := range preds {
		worsts = append(worsts, storm.WorstBurst(p.Times(), p.Tick).Probes)
		probes = append(probes, len(p.Probes))
		dead = append(dead, p.FalseDead())
	}
	res.PredictedWorstBurst = median(worsts)
	res.PredictedRange = [2]int{slices.Min(worsts), slices.Max(worsts)}
	res.PredictedProbes = median(probes)
	res.PredictedFalseDead = median(dead)
	s.progress("storm: %s: %d probes, worst burst %d (model %d), %d falsely dead (model %d), %d policed, %d lost by the capture, %d by CPU backlogs",
		st, res.Probes, res.WorstBurst, res.PredictedWorstBurst, res.FalseDead, res.PredictedFalseDead, res.Policed, res.CaptureDrops, res.BacklogDrops)
	closeAll()
	return res, nil
}

func median(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// dial opens one client connection for strategy st (on a thread inside the
// client namespace) and arms its keepalive.
func (s *stormSetup) dial(ctx context.Context, st storm.Strategy, addr string, p storm.Plan, since func() time.Duration) (*labConn, error) {
	lc := &labConn{armed: -1, deadAt: -1, idle: s.k.Idle}
	if st == storm.Flatline {
		d := &flatline.Dialer{Config: s.cfg.Config}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		lc.c, lc.created, lc.armed = c, since(), since()
		return lc, nil
	}
	d := &net.Dialer{KeepAlive: -1}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	lc.c, lc.created, lc.idle = c, since(), p.Idle
	k := s.k
	err = control(c, func(fd int) error {
		return kernel.SetOptions(fd, kernel.Options{KeepAlive: true, Idle: p.Idle, Interval: k.Interval, Count: k.Count, UserTimeout: k.UserTimeout})
	})
	lc.armed = since()
	if err != nil {
		c.Close()
		return nil, err
	}
	return lc, nil
}

// rearm turns keepalive off and on: the timer is armed a full idle from
// now.
func rearm(lc *labConn, since func() time.Duration) {
	_ = control(lc.c, kernel.Rearm)
	lc.mu.Lock()
	lc.armed = since()
	lc.mu.Unlock()
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
