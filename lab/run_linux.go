package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
	"golang.org/x/sys/unix"
)

// Run measures every cell of opts in parallel, each in a topology of its
// own, and returns the results in the order of opts.Cells. Every namespace
// it made is gone when it returns, also when ctx is canceled (SIGINT): the
// cells not yet measured are then missing from the result and the error
// is ctx's.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if len(opts.Endpoint) == 0 {
		return nil, errors.New("lab: Options.Endpoint is empty: nothing to start the server endpoint with")
	}
	if os.Geteuid() != 0 {
		return nil, &UnsupportedError{Feature: "root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces"}
	}
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Second
	}
	if _, err := (flatline.Config{Timeout: opts.Timeout}).Plan(); err != nil {
		return nil, err
	}
	if opts.Cap == 0 {
		opts.Cap = 10 * opts.Timeout
	}
	if opts.Cells == nil {
		opts.Cells, _ = Matrix(false, "")
	}
	if opts.Parallel <= 0 {
		opts.Parallel = defaultParallel
	}
	if _, err := Sweep(); err != nil {
		return nil, err
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	res := &Result{TimeoutS: opts.Timeout.Seconds(), Kernel: unix.ByteSliceToString(uts.Release[:])}
	if h, err := flatline.ReadHost("/"); err == nil && h.Kernel != "" {
		res.Kernel = h.Kernel // with the upstream version a distribution's release hides
	}

	results := make([]CellResult, len(opts.Cells))
	ran := make([]bool, len(opts.Cells))
	errs := make([]error, len(opts.Cells))
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i, cell := range opts.Cells {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			r, err := runCell(ctx, opts, cell)
			if ctx.Err() != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			results[i], ran[i], errs[i] = r, true, err
			done++
			if opts.Progress != nil {
				opts.Progress(done, len(opts.Cells), r)
			}
		}()
	}
	wg.Wait()
	for i := range results {
		if ran[i] {
			res.Cells = append(res.Cells, results[i])
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, errors.Join(errs...)
}

// defaultParallel cells at once keep a 2-core machine responsive enough
// that its own load does not inflate RTTs (and so retransmission timeouts)
// much; the full matrix still fits in about two minutes.
const defaultParallel = 64

// event is the application's first error and when it came.
type event struct {
	at  time.Time
	err error
}

// dialThroughCut applies fault, then dials addr through it, and sends the
// dial's error to first unless it came at the cap (the cap running out is
// not a detection). It returns when it dialed.
func dialThroughCut(ctx context.Context, topo *Topology, fault Fault, dial dialFunc, addr string, capAfter time.Duration, first chan<- event) (time.Time, error) {
	if err := topo.Apply(fault); err != nil {
		return time.Time{}, err
	}
	dctx, cancel := context.WithTimeout(ctx, capAfter)
	defer cancel()
	start := time.Now()
	err := topo.Client.Do(func() error {
		conn, err := dial(dctx, "tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err
	})
	if err == nil {
		return start, errors.New("dial through a cut path succeeded")
	}
	if dl, _ := dctx.Deadline(); time.Now().Before(dl) {
		first <- event{time.Now(), err}
	}
	return start, nil
}

// clientHost reads the host of topo's client namespace (its TCP sysctls
// and the HZ): what a promise or a prediction there is computed for.
func clientHost(topo *Topology) (flatline.Host, error) {
	var host flatline.Host
	err := topo.Client.Do(func() error {
		var err error
		host, err = flatline.ReadHost("/")
		return err
	})
	return host, err
}

// preparePath reads the promise's host from the client namespace's own
// defaults and puts the cell's path fault in place before the connection
// is made: random loss, or netem shaping (an error matching
// ErrNotSupported when the kernel has no netem: the cell is skipped).
func preparePath(topo *Topology, cell Cell) (flatline.Host, error) {
	host, err := clientHost(topo)
	if err != nil {
		return host, err
	}
	if l, ok := randomLossOf(cell.Fault); ok {
		if err := topo.RandomLoss(l); err != nil {
			return host, err
		}
	}
	if sh, ok := shapeOf(cell.Fault); ok {
		return host, topo.Shape(sh)
	}
	return host, nil
}

// observe records the application's first error e in r and returns how
// long after the fault (start) it came, counted from the last segment
// received for the states keepalive decides.
func observe(r *CellResult, cell Cell, conn net.Conn, e event, start time.Time, more <-chan event) time.Duration {
	d := e.at.Sub(start)
	r.DetectedS = seconds(d)
	e.err = withErrno(e.err, more)
	r.Error = e.err.Error()
	r.Cause = flatline.Diagnose(conn, e.err).String()
	if conn != nil {
		if a := conn.LocalAddr(); a != nil {
			r.Local = a.String()
		}
	}
	if c, ok := heartbeatCause(e.err); ok {
		r.Cause = c
	}
	if st := cell.Workload.State(); st == flatline.StateIdle || st == flatline.StateReceiving {
		// Keepalive counts from the last segment received: where the
		// peer's data kept arriving after the fault (one-way-out), the
		// promise runs from that arrival.
		if heard := lastHeard(conn, e.at); heard.After(start) {
			r.SilentAfterS = heard.Sub(start).Seconds()
			d -= heard.Sub(start)
		}
	}
	return d
}

// errnoWait is how long observe waits, after a Read's io.EOF, for the
// workload's other goroutine to report the error that carries the errno.
const errnoWait = 100 * time.Millisecond

// withErrno returns err, or, when err is io.EOF (the kernel reports a
// socket's error once: a Write took it and the concurrent Read saw EOF),
// the other error that comes on more within errnoWait, which carries the
// errno (ENETUNREACH after an ICMP unreachable, ETIMEDOUT): Diagnose can
// tell its cause from that, as flatline trace does, and not only from the
// socket's counters.
func withErrno(err error, more <-chan event) error {
	if !errors.Is(err, io.EOF) {
		return err
	}
	select {
	case e := <-more:
		if !errors.Is(e.err, io.EOF) {
			return e.err
		}
	case <-time.After(errnoWait):
	}
	return err
}

// runCell builds a topology, starts the server endpoint and the client's
// workload, applies the fault and waits for the first error or the cap.
func runCell(ctx context.Context, opts Options, cell Cell) (CellResult, error) {
	if cell.Fault == MiddleboxExpiry {
		return runMiddlebox(ctx, opts, cell)
	}
	t := opts.Timeout
	r := CellResult{Workload: cell.Workload, Fault: cell.Fault, Config: cell.Config, CapS: opts.Cap.Seconds()}
	fail := func(err error) (CellResult, error) {
		r.Verdict = Errored
		r.Error = err.Error()
		return r, fmt.Errorf("lab: cell %s: %w", cell.Name(), err)
	}

	topo, err := New(ctx)
	if err != nil {
		return fail(err)
	}
	defer topo.Close()

	host, err := preparePath(topo, cell)
	if errors.Is(err, ErrNotSupported) {
		r.Verdict, r.Error = Skipped, err.Error()
		return r, nil
	}
	if err != nil {
		return fail(err)
	}
	expectNever, deadline := expect(&r, cell, t, host)

	server, err := startEndpoint(ctx, topo, opts.Endpoint, cell, t)
	if err != nil {
		return fail(err)
	}
	defer server.stop()

	client, err := newCellClient(ctx, topo, opts, cell, t)
	if err != nil {
		return fail(err)
	}
	defer client.undo()
	dial := client.dial
	addr := net.JoinHostPort(topo.ServerAddr.String(), fmt.Sprint(endpointPort))
	cellCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	var conn net.Conn
	first := make(chan event, 3)
	healed := make(chan error, 1)
	var start time.Time
	if cell.Workload == Connect {
		if start, err = dialThroughCut(cellCtx, topo, cell.Fault, dial, addr, opts.Cap, first); err != nil {
			return fail(err)
		}
	} else {
		if err := topo.Client.Do(func() error {
			var err error
			conn, err = dial(cellCtx, "tcp", addr)
			return err
		}); err != nil {
			return fail(fmt.Errorf("dial before the fault: %w", err))
		}
		defer conn.Close()
		if cell.Config == FlatlineHeartbeat {
			hb, err := startHeartbeat(cellCtx, topo, t, first)
			if err != nil {
				return fail(err)
			}
			defer hb.Close()
		}
		ready := startWorkload(cellCtx, conn, cell.Workload, idleWarmup(cell, t), first)
		select {
		case <-ready:
		case e := <-first:
			return fail(fmt.Errorf("workload before the fault: %w", e.err))
		case <-time.After(t + 10*time.Second):
			return fail(fmt.Errorf("workload not steady within %v", t+10*time.Second))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		if err := client.applyMidLife(ctx, cell, t); err != nil {
			return fail(fmt.Errorf("apply: %w", err))
		}
		r.RTOS = rto(conn).Seconds()
		if cell.Fault == Latency50 || cell.Fault == Latency300 {
			expectNever, deadline = expectOnPath(&r, cell, t, host, conn)
		}
		if start, err = applyFault(cellCtx, topo, server, cell.Fault, t, healed); err != nil {
			return fail(err)
		}
	}

	timer := time.NewTimer(opts.Cap - time.Since(start))
	defer timer.Stop()
	var detected *time.Duration
	select {
	case e := <-first:
		d := observe(&r, cell, conn, e, start, first)
		detected = &d
	case <-timer.C:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	select {
	case err := <-healed:
		if err != nil {
			return fail(fmt.Errorf("heal after %s: %w", cell.Fault, err))
		}
	default: // no self-healing fault, or not healed yet
	}
	r.Verdict = verdict(mustSurvive(cell) || pathMustSurvive(cell), expectNever, deadline, detected)
	if p, ok := lossKillChance(cell, t, host, opts.Cap); ok {
		r.FalseKillChance = &p
		if r.Verdict == FalseKill && p >= atRiskChance {
			r.Verdict = AtRisk
		}
	}
	return r, nil
}

// healLater heals topo after d unless ctx ends first, and sends Heal's
// result on healed.
func healLater(ctx context.Context, topo *Topology, d time.Duration, healed chan<- error) {
	heal := time.AfterFunc(d, func() { healed <- topo.Heal() })
	context.AfterFunc(ctx, func() { heal.Stop() })
}

// expect fills the expected column and returns what the verdict compares
// with: the bound's deadline (Worst + Slack) plus one workload period, since
// the first unacknowledged send may come up to one period after the fault.
func expect(r *CellResult, cell Cell, t time.Duration, host flatline.Host) (never bool, deadline time.Duration) {
	state := cell.Workload.State()
	if rule := survivalRule(cell); rule != "" {
		r.Rule = rule
		return true, 0
	}
	if never, deadline, decided := heartbeatExpect(r, cell, t, host); decided {
		return never, deadline
	}
	switch {
	case cell.Fault == PeerFrozen && (state == flatline.StateIdle || state == flatline.StateReceiving):
		r.Rule = "the frozen peer's kernel answers every probe: only an application heartbeat notices"
		return true, 0
	case cell.Fault == PeerFrozen && state == flatline.StateSending:
		// The window closes only once the frozen peer's receive buffer and
		// our send buffer are full, at a moment the plan cannot know.
		r.Rule = "the frozen peer's kernel acknowledges until its buffer is full; then the closed-window rule, from that moment"
		return true, 0
	case cell.Fault == Blip && state != flatline.StateClosedWindow:
		r.Rule = "a blip shorter than one probe interval must not kill"
		return true, 0
	}
	// A zero-window workload is a peer that does not read: the closed-window
	// rule applies whatever else happens, a blip included.
	b, err := cell.Config.Bound(t, state, host)
	if err != nil || b.Never {
		r.Rule = b.Rule
		return true, 0
	}
	r.ExpectedS = seconds(b.Worst)
	r.SlackS = b.Slack.Seconds()
	r.Rule = b.Rule
	if cell.Fault == OneWayOut && state == flatline.StateReceiving {
		// Measured: the server's data still reaches the client for about
		// 0.2-0.3 s after the fault (until its congestion window is full
		// of unacknowledged data), and the keepalive clock starts there:
		// the cell is judged from that arrival (SilentAfterS).
		r.Rule += "; the peer's data keeps arriving after the fault until its congestion window is full, and the promise runs from the last arrival"
	}
	if cell.Fault == LinkDown && state == flatline.StateSending {
		// Measured: ICMP unreachable from the router makes the kernel revert
		// the RTO backoff (tcp_ld_RTO_revert) and re-arm without the
		// user-timeout clamp; the plan states it in Plan.Notes.
		r.Rule += "; the router's ICMP unreachable reverts the RTO backoff and re-arms the timer without the user-timeout clamp, up to one RTO late (a kernel limit the plan states)"
	}
	d, _ := b.Deadline()
	if state == flatline.StateSending {
		d += period
	}
	return false, d
}

// blipLength is shorter than the keepalive interval of every configuration
// that promises to tolerate a lost probe at t.
func blipLength(t time.Duration) time.Duration {
	iv := storySettings(t, false).Interval
	if s, err := Flatline.Settings(t); err == nil && s.Interval < iv {
		iv = s.Interval
	}
	return iv * 8 / 10
}

// applyFault applies f and returns when it struck. Faults that heal by
// themselves (peer-reboot, blip) send Heal's result on healed: a heal
// that failed leaves the path cut, and the cell's result would be a false
// kill, not a measurement.
func applyFault(ctx context.Context, topo *Topology, server *endpoint, f Fault, t time.Duration, healed chan<- error) (time.Time, error) {
	switch f {
	case PeerFrozen:
		at := time.Now() // the signal takes effect before kill(2) returns
		return at, server.signal(syscall.SIGSTOP)
	case Reset:
		at := time.Now()
		return at, server.signal(syscall.SIGUSR1)
	case PeerPaused:
		at := time.Now()
		if err := server.signal(syscall.SIGSTOP); err != nil {
			return at, err
		}
		cont := time.AfterFunc(pauseLength(t), func() { server.signal(syscall.SIGCONT) })
		context.AfterFunc(ctx, func() { cont.Stop() })
		return at, nil
	case PeerReboot:
		if err := topo.Apply(Blackhole); err != nil {
			return time.Time{}, err
		}
		at := time.Now()
		server.stop()
		// The peer is back (without the connection) well before any
		// configuration's first probe or retransmission gives up.
		healLater(ctx, topo, min(t/4, 500*time.Millisecond), healed)
		return at, nil
	case Latency50, Latency300:
		err := topo.Apply(Blackhole)
		return time.Now(), err
	case Loss1, Loss5, Rate:
		return time.Now(), nil // the path is lossy or narrow from the start: the soak runs from here
	case Blip:
		if err := topo.Apply(Blackhole); err != nil {
			return time.Time{}, err
		}
		at := time.Now()
		healLater(ctx, topo, blipLength(t), healed)
		return at, nil
	default:
		err := topo.Apply(f)
		return time.Now(), err
	}
}

// idleWarmup is how long an idle connection stays idle before its fault.
// Keepalive counts from the last segment received (the handshake here), so
// a fault right after it measures the whole promise. A blip instead starts
// half its length before the first keepalive probe, so that it swallows
// that probe.
func idleWarmup(cell Cell, t time.Duration) time.Duration {
	const minWarm = 50 * time.Millisecond
	if cell.Fault != Blip {
		return minWarm
	}
	s, err := cell.Config.Settings(t)
	if err != nil {
		return minWarm
	}
	// At most T, so a cell stays short: a configuration idle longer than T
	// (Go's 15 s) meets the blip before its first probe.
	return min(t, max(minWarm, s.Idle-blipLength(t)/2))
}

// startWorkload runs the client side of w on conn and reports the first
// error on first. ready closes when the workload is steady, the moment to
// apply the fault: idleWarm after the start for an idle connection.
func startWorkload(ctx context.Context, conn net.Conn, w Workload, idleWarm time.Duration, first chan<- event) <-chan struct{} {
	report := func(err error) {
		if err != nil && ctx.Err() == nil {
			select {
			case first <- event{time.Now(), err}:
			default:
			}
		}
	}
	ready := make(chan struct{})
	steady := func(d time.Duration) {
		time.AfterFunc(d, func() { close(ready) })
	}
	// Every workload reads: a dead connection fails a blocked Read.
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := conn.Read(buf); err != nil {
				report(err)
				return
			}
		}
	}()
	writeEvery := func(size int) {
		buf := make([]byte, size)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := conn.Write(buf); err != nil {
				report(err)
				return
			}
		}
	}
	switch w {
	case Sending:
		go writeEvery(sendChunk)
		steady(10 * period)
	case Replication:
		go writeEvery(recordSize)
		steady(10 * period)
	case Receiving:
		steady(10 * period)
	case ZeroWindow:
		// Write until a write blocks for 200 ms: the peer's window and our
		// send buffer are full. Then keep one write blocked.
		go func() {
			buf := make([]byte, 64<<10)
			for {
				conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
				_, err := conn.Write(buf)
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				if err != nil {
					report(err)
					return
				}
			}
			conn.SetWriteDeadline(time.Time{})
			close(ready)
			_, err := conn.Write(buf)
			report(err)
		}()
	default:
		steady(idleWarm)
	}
	return ready
}

// endpoint is a running server endpoint process.
type endpoint struct {
	cmd  *exec.Cmd
	once sync.Once
}

// startEndpoint starts the server endpoint process in the server namespace
// and waits for its "ready".
func startEndpoint(ctx context.Context, topo *Topology, argv []string, cell Cell, t time.Duration) (*endpoint, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %s", EndpointEnv, cell.Workload, cell.Config, t))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// Forked from a thread inside the server namespace: the child is born
	// there.
	if err := topo.Server.Do(cmd.Start); err != nil {
		return nil, fmt.Errorf("start endpoint %s: %w", argv[0], err)
	}
	e := &endpoint{cmd: cmd}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		io.Copy(io.Discard, out)
	}()
	select {
	case s := <-line:
		if strings.TrimSpace(s) != "ready" {
			e.stop()
			return nil, fmt.Errorf("endpoint %s did not start (said %q)", argv[0], s)
		}
	case <-time.After(10 * time.Second):
		e.stop()
		return nil, errors.New("endpoint not ready within 10s")
	case <-ctx.Done():
		e.stop()
		return nil, ctx.Err()
	}
	return e, nil
}

func (e *endpoint) signal(sig syscall.Signal) error {
	if err := e.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal endpoint: %w", err)
	}
	return nil
}

// stop kills the endpoint (a frozen one too) and reaps it.
func (e *endpoint) stop() {
	e.once.Do(func() {
		e.cmd.Process.Kill()
		e.cmd.Wait()
	})
}

// lastHeard is when c last received data or an ACK, as tcp_info tells it
// at the moment at (the kernel model's keepalive clock); the zero time
// when unreadable.
func lastHeard(c net.Conn, at time.Time) time.Time {
	info := tcpInfo(c)
	if info == nil {
		return time.Time{}
	}
	return at.Add(-kernel.Quiet(kernel.ConnOf(info)))
}

// rto is the connection's retransmission timeout from TCP_INFO, zero if
// unreadable: evidence for a sending cell that is later than its bound.
func rto(c net.Conn) time.Duration {
	if info := tcpInfo(c); info != nil {
		return time.Duration(info.Rto) * time.Microsecond
	}
	return 0
}

func tcpInfo(c net.Conn) *unix.TCPInfo {
	sc, ok := c.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var info *unix.TCPInfo
	rc.Control(func(fd uintptr) { info, _ = kernel.ReadTCPInfo(int(fd)) })
	return info
}
