package flatline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// Dialer dials TCP connections whose dead peers are noticed within
// Config.Timeout. The embedded net.Dialer works as usual (LocalAddr,
// Resolver, Control, ...) except that its keepalive fields are ignored:
// flatline sets keepalive itself, and its connect deadline applies when it
// is earlier than net.Dialer.Timeout. Connections come back as the
// net.Dialer made them (*net.TCPConn), with no deadline set, usable by
// crypto/tls, net/http.Transport.DialContext, gRPC's WithContextDialer and
// database drivers.
type Dialer struct {
	net.Dialer
	Config Config

	plan planCache
}

// planCache keeps the plan of the last Config a Dialer derived: deriving
// (the planner weighs keepalive chains against loss) costs more than the
// dial itself, and a Dialer's Config rarely changes. Each use compares the
// Config, so a Dialer copied with its cache and then changed stays right.
// The pointer is read and written atomically (dials run concurrently); it
// is a plain unsafe.Pointer rather than an atomic.Pointer so that copying a
// Dialer, as users may, is not a vet error.
type planCache struct{ p unsafe.Pointer } // *cachedPlan

type cachedPlan struct {
	cfg    Config
	d      derived
	err    error
	spread *spreader // nil: no spreading
	// control is setOn as a func value made once: the ControlContext of
	// a dial whose net.Dialer has no Control of its own (a method value
	// made per dial would be one more allocation a dial).
	control func(ctx context.Context, network, address string, rc syscall.RawConn) error
	setters sync.Pool // *optionSetter
}

// optionSetter carries one dial's setOptions through RawConn.Control: its
// func value is made once and setters are reused, where a closure and its
// error made per dial were two allocations a dial.
type optionSetter struct {
	s   Settings
	err error
	fn  func(fd uintptr)
}

// setOn sets the plan's options on a socket before it connects.
func (e *cachedPlan) setOn(_ context.Context, _, _ string, rc syscall.RawConn) error {
	st, _ := e.setters.Get().(*optionSetter)
	if st == nil {
		st = &optionSetter{s: e.d.s}
		st.fn = func(fd uintptr) { st.err = setOptions(fd, st.s) }
	}
	cerr := rc.Control(st.fn)
	err := st.err
	st.err = nil
	e.setters.Put(st)
	if cerr != nil {
		return &OpError{Op: "access socket", Err: cerr}
	}
	return err
}

// get returns the plan of cfg and its spreader, from the cache when cfg is
// the last one.
func (c *planCache) get(cfg Config) (*cachedPlan, error) {
	if e := (*cachedPlan)(atomic.LoadPointer(&c.p)); e != nil && e.cfg == cfg {
		return e, e.err
	}
	d, err := cfg.derive()
	e := &cachedPlan{cfg: cfg, d: d, err: err}
	e.control = e.setOn
	if err == nil {
		e.spread = newSpreader(d)
	}
	atomic.StorePointer(&c.p, unsafe.Pointer(e))
	return e, err
}

// Dial is DialContext with context.Background.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to address on network ("tcp", "tcp4" or "tcp6"),
// with the socket options of Config.Plan set before the SYN leaves. It
// fails with a *ConfigError for a bad Config, a *NotSupportedError on a
// platform that cannot set the options, and net.Dialer's errors otherwise.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if !isTCP(network) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("flatline: %w: network %q (use tcp, tcp4 or tcp6)", ErrNotTCP, network)}
	}
	cached, err := d.plan.get(d.Config)
	if err != nil {
		return nil, err
	}
	plan := cached.d
	nd := d.Dialer
	nd.KeepAlive = -1 // flatline sets keepalive; Go's defaults would overwrite it after connect
	nd.KeepAliveConfig = net.KeepAliveConfig{}
	// On Linux the user timeout already bounds SYN-SENT; a dial deadline
	// costs a timer per dial, so it is set only where it bounds more.
	if (!userTimeoutBoundsSYN || plan.connect < plan.s.UserTimeout) && (nd.Timeout == 0 || nd.Timeout > plan.connect) {
		nd.Timeout = plan.connect
	}
	nd.Control, nd.ControlContext = nil, cached.control
	if userControl, userControlContext := d.Dialer.Control, d.Dialer.ControlContext; userControl != nil || userControlContext != nil {
		nd.ControlContext = func(ctx context.Context, network, address string, rc syscall.RawConn) error {
			var err error
			if userControlContext != nil {
				err = userControlContext(ctx, network, address, rc)
			} else {
				err = userControl(network, address, rc)
			}
			if err != nil {
				return err
			}
			return cached.setOn(ctx, network, address, rc)
		}
	}
	c, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if cached.spread != nil {
		cached.spread.add(c)
	}
	return c, nil
}

// ListenConfig listens for TCP connections whose dead peers are noticed
// within Config.Timeout: every accepted connection carries the settings
// of Config.Plan. The embedded net.ListenConfig works as usual except that
// its keepalive fields are ignored.
type ListenConfig struct {
	net.ListenConfig
	Config Config

	// ConfigureFailed, when set, is called by Accept with an accepted
	// connection whose options could not be set (it broke the promise:
	// typically the peer reset it before Accept returned, ECONNRESET or
	// EINVAL) and the error. Returning true hands the connection to the
	// caller unconfigured; false closes it and Accept waits for the next
	// one. Nil means close it without telling anyone.
	ConfigureFailed func(c net.Conn, err error) (keep bool)
}

// Listen announces on the local address. The returned listener's Accept
// sets the plan's options on each connection before returning it; a
// connection whose options cannot be set goes to ConfigureFailed, or is
// closed, and Accept waits for the next one.
func (lc *ListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	if !isTCP(network) {
		return nil, &net.OpError{Op: "listen", Net: network, Err: fmt.Errorf("flatline: %w: network %q (use tcp, tcp4 or tcp6)", ErrNotTCP, network)}
	}
	plan, err := lc.Config.derive()
	if err != nil {
		return nil, err
	}
	if err := supported(); err != nil {
		return nil, err
	}
	nlc := lc.ListenConfig
	nlc.KeepAlive = -1
	nlc.KeepAliveConfig = net.KeepAliveConfig{}
	ln, err := nlc.Listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &listener{Listener: ln, plan: plan, spread: newSpreader(plan), failed: lc.ConfigureFailed}, nil
}

type listener struct {
	net.Listener
	plan   derived
	spread *spreader // nil: no spreading
	failed func(net.Conn, error) bool
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if _, err := configureOnly(c, l.plan); err != nil {
			if l.failed != nil && l.failed(c, err) {
				return c, nil
			}
			c.Close() // a socket we cannot configure breaks the promise: drop it
			continue
		}
		if l.spread != nil {
			l.spread.add(c)
		}
		return c, nil
	}
}

// Configure sets the options of cfg.Plan on a connection made elsewhere:
// anything with a SyscallConn method (a *net.TCPConn), or a wrapper with a
// NetConn method (a *tls.Conn) around one. It sets no deadline.
func Configure(c net.Conn, cfg Config) error {
	plan, err := cfg.derive()
	if err != nil {
		return err
	}
	return configure(c, plan)
}

func configure(c net.Conn, plan derived) error {
	rc, err := configureOnly(c, plan)
	if err != nil {
		return err
	}
	spreadKeepalive(rc, plan.spread)
	return nil
}

// configureOnly sets the plan's options on c, without spreading.
func configureOnly(c net.Conn, plan derived) (syscall.RawConn, error) {
	rc, err := rawConn(c)
	if err != nil {
		return nil, err
	}
	return rc, control(rc, func(fd uintptr) error { return setOptions(fd, plan.s) })
}

// ReadSettings reads back what the kernel really has on c: SO_KEEPALIVE,
// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT (the effective values, per
// socket or the namespace's sysctls), TCP_USER_TIMEOUT and TCP_SYNCNT
// (Linux; the nearest equivalents elsewhere).
func ReadSettings(c syscall.Conn) (Settings, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Settings{}, &OpError{Op: "read settings", Err: err}
	}
	var s Settings
	err = control(rc, func(fd uintptr) error {
		var err error
		s, err = getOptions(fd)
		return err
	})
	return s, err
}

// SetSettings sets s on c as it is, option by option, through the same
// option table as Dialer and Configure (keepalive values before
// SO_KEEPALIVE, which arms the timer): for tools that apply a plan's
// Settings to a socket they hold (enforce.Apply). A failure is an
// *OpError naming the option.
func SetSettings(c syscall.Conn, s Settings) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return &OpError{Op: "set settings", Err: err}
	}
	return control(rc, func(fd uintptr) error { return setOptions(fd, s) })
}

// spreadKeepalive re-arms the connection's keepalive timer after a random delay in
// [0, spread), so that connections made together probe at different
// instants: enabling SO_KEEPALIVE arms the timer a full idle period from
// that moment, and a healthy idle connection keeps that phase. The
// connection is protected by keepalive all along. If c is closed first,
// the re-arm finds it closed and does nothing.
func spreadKeepalive(rc syscall.RawConn, spread time.Duration) {
	if spread <= 0 {
		return
	}
	time.AfterFunc(rand.N(spread), func() {
		_ = control(rc, rearmKeepalive) // closed meanwhile: nothing to spread
	})
}

// spreader re-arms the keepalive of the connections a Dialer or a
// listener hands it at a random instant within the plan's spread, as
// spreadKeepalive does, with one timer per slot instead of one per
// connection: a slot is a fraction of the timer-wheel bucket at the idle
// period (kernel.SpreadSlot), so the spreading against the wheel is the
// same as independent draws (TestIntegrationDialerSpread). A slot's timer
// re-arms all its connections that are still open.
//
// A dial only appends its connection to one pending list; a sort, at
// most pruneEvery (and a slot) later, drops the connections closed
// already and draws a re-arm instant for each open one, counted from when
// the first of the list was handed over (the connections were armed at
// connect, within sortAfter of that), and files it under its slot. The
// dial so reads no clock, draws nothing and touches one list's tail, not
// a map and a slot's list drawn at random: after the kernel's work of a
// connect the process's data is out of the CPU's caches, and every line
// touched is a miss (perf, 100,000 dials on the 2-core VM: the draw, the
// clock, the map and the slot's lines were about 0.8 µs a dial, the
// append is 0.2). A
// Dialer making short connections at a high rate would otherwise hold
// every connection of the last Spread (about 270 bytes each, 8 MB after
// 30,000 dials in 1.5 s), marked by the collector in every cycle. Weak
// pointers would let go of closed ones without looking, but weak.Make
// cost about 2 µs a dial there (it walks the span's list of specials,
// long where connections are packed).
type spreader struct {
	spread, slot time.Duration
	sortAfter    time.Duration // the longest a connection waits for its sort
	origin       time.Time     // slots count from here (monotonic)
	mu           sync.Mutex
	pending      []*net.TCPConn           // handed over since the last sort
	start        time.Duration            // since origin, before any of pending was handed over
	spare        []*net.TCPConn           // the last sort's list, for the next one
	sorting      bool                     // a sort is scheduled or running
	due          map[int64][]*net.TCPConn // by slot: open at their sort
}

// pruneEvery is the longest a connection waits for its sort, when the
// slot is not shorter.
const pruneEvery = 20 * time.Millisecond

// newSpreader returns the spreader of a plan, nil when it spreads nothing.
func newSpreader(plan derived) *spreader {
	if plan.spread <= 0 {
		return nil
	}
	slot := max(kernel.SpreadSlot(plan.s.Idle), time.Millisecond)
	return &spreader{spread: plan.spread, slot: slot, sortAfter: min(slot, pruneEvery),
		due: map[int64][]*net.TCPConn{}, origin: time.Now()}
}

// add schedules c's re-arm at a random instant within the spread; c that
// is not a *net.TCPConn gets a timer of its own (spreadKeepalive).
func (s *spreader) add(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		if rc, err := rawConn(c); err == nil {
			spreadKeepalive(rc, s.spread)
		}
		return
	}
	s.mu.Lock()
	s.pending = append(s.pending, tc)
	sort := !s.sorting
	if sort {
		s.sorting, s.start = true, time.Since(s.origin)
	}
	s.mu.Unlock()
	if sort {
		time.AfterFunc(s.sortAfter, s.sort)
	}
}

// sort files the pending connections that are still open under the slots
// of their re-arm instants, arming a slot's timer when it gets its first
// connection. A connection whose instant has passed already is left
// alone: it was armed at connect, within sortAfter (at most a slot) of
// that instant, and slots tell phases no finer. It looks at the
// connections outside the lock (dials go on adding meanwhile, to the
// next list).
func (s *spreader) sort() {
	s.mu.Lock()
	batch, start := s.pending, s.start
	s.pending, s.spare, s.start = s.spare[:0], nil, time.Since(s.origin)
	s.mu.Unlock()
	open := batch[:0]
	for _, c := range batch {
		if isOpen(c) {
			open = append(open, c)
		}
	}
	now := time.Since(s.origin)
	s.mu.Lock()
	for _, c := range open {
		at := start + rand.N(s.spread)
		if at <= now {
			continue
		}
		k := int64(at / s.slot)
		conns, armed := s.due[k]
		if !armed {
			time.AfterFunc(time.Duration(k)*s.slot-now, func() { s.fire(k) })
		}
		s.due[k] = append(conns, c)
	}
	clear(batch)
	if s.spare == nil {
		s.spare = batch[:0]
	}
	s.sorting = len(s.pending) > 0 // added during the sort: sort again
	again := s.sorting
	s.mu.Unlock()
	if again {
		time.AfterFunc(s.sortAfter, s.sort)
	}
}

// fire re-arms the connections of slot k that are still there.
func (s *spreader) fire(k int64) {
	s.mu.Lock()
	conns := s.due[k]
	delete(s.due, k)
	s.mu.Unlock()
	rearm(conns)
}

// rearm re-arms the keepalive of conns: rearmKeepalive's off and on,
// through the *net.TCPConn itself (no raw connection and closures to
// allocate per connection). A connection closed meanwhile fails the
// first: nothing to spread.
func rearm(conns []*net.TCPConn) {
	for _, c := range conns {
		if c.SetKeepAlive(false) == nil {
			_ = c.SetKeepAlive(true)
		}
	}
}

// isOpen reports whether c has not been closed.
func isOpen(c *net.TCPConn) bool {
	rc, err := c.SyscallConn()
	return err == nil && rc.Control(func(uintptr) {}) == nil
}

func isTCP(network string) bool {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return true
	}
	return false
}

func rawConn(c net.Conn) (syscall.RawConn, error) {
	for range 8 { // unwrap at most a few layers of NetConn wrappers
		if sc, ok := c.(syscall.Conn); ok {
			rc, err := sc.SyscallConn()
			if err != nil {
				return nil, &OpError{Op: "get raw connection", Err: err}
			}
			return rc, nil
		}
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = w.NetConn()
	}
	return nil, fmt.Errorf("flatline: %w: %T has no SyscallConn method", ErrNotTCP, c)
}

// control runs fn on rc's descriptor and returns the first error of either.
func control(rc syscall.RawConn, fn func(fd uintptr) error) error {
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(fd) }); err != nil {
		return &OpError{Op: "access socket", Err: err}
	}
	return ferr
}
