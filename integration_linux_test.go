package flatline_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/flatline-dev/flatline/internal/topology"
)

// writePeriod is how often the sending and receiving workloads write. The
// first byte that stays unacknowledged after a fault leaves up to one
// period after it, so the sending bound is checked with this added.
const writePeriod = 10 * time.Millisecond

// schedSlack is what the tests allow on top of a bound and its timer
// slack for getting the news out of the kernel: the timer softirq and the
// reading goroutine run late on a loaded machine (a full parallel
// `go test ./...` beside other work delayed deaths by up to 0.33 s; alone,
// by under 20 ms).
const schedSlack = 250 * time.Millisecond

// Modes the test server understands, sent as the first byte of a connection.
const (
	modeHold    = 'h' // read until error, send nothing
	modeIdle    = 'i' // as modeHold, and report the death on idleErrs
	modeReceive = 'r' // write every writePeriod until error
	modeEcho    = 'e' // echo everything
)

// peer is a server in the topology's server namespace.
type peer struct {
	ln net.Listener
	// idleErrs receives, for each accepted modeIdle connection, the moment
	// and cause of its death: the server-side check.
	idleErrs chan death
}

type death struct {
	at    time.Time
	err   error
	cause flatline.Cause
}

func newTopology(t *testing.T) *topology.Topology {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make network namespaces")
	}
	return testutil.Topology(t)
}

// listen starts a server in the server namespace: with flatline settings
// when cfg is non-nil, with Go's defaults otherwise.
func listen(t *testing.T, topo *topology.Topology, port int, cfg *flatline.Config) *peer {
	t.Helper()
	addr := net.JoinHostPort(topo.ServerAddr.String(), strconv.Itoa(port))
	var ln net.Listener
	err := topo.Server.Do(func() error {
		var err error
		if cfg != nil {
			lc := flatline.ListenConfig{Config: *cfg}
			ln, err = lc.Listen(context.Background(), "tcp", addr)
		} else {
			ln, err = net.Listen("tcp", addr)
		}
		return err
	})
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	p := &peer{ln: ln, idleErrs: make(chan death, 16)}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); p.serve(c) }()
		}
	}()
	return p
}

func (p *peer) serve(c net.Conn) {
	defer c.Close()
	var mode [1]byte
	if _, err := io.ReadFull(c, mode[:]); err != nil {
		return
	}
	switch mode[0] {
	case modeHold:
		io.Copy(io.Discard, c)
	case modeIdle:
		_, err := io.Copy(io.Discard, c)
		if err == nil {
			err = io.EOF
		}
		p.idleErrs <- death{at: time.Now(), err: err, cause: flatline.Diagnose(c, err)}
	case modeReceive:
		buf := make([]byte, 64)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
			time.Sleep(writePeriod) // the workload's pace, not a wait for a condition
		}
	case modeEcho:
		io.Copy(c, c)
	}
}

// conn is a client connection under test with its workload running; died
// is closed when the application sees the first error.
type conn struct {
	name string
	c    net.Conn
	died chan struct{}
	once sync.Once
	d    death
}

func (k *conn) fail(err error) {
	k.once.Do(func() {
		k.d = death{at: time.Now(), err: err, cause: flatline.Diagnose(k.c, err)}
		close(k.died)
	})
}

// dial connects from the client namespace with d and starts a workload: the
// client reads until error (but in modeEcho, where the test reads), and
// writes every writePeriod in mode 's' (sending; the server holds and
// discards).
func dial(t *testing.T, topo *topology.Topology, name string, d interface {
	DialContext(context.Context, string, string) (net.Conn, error)
}, port int, mode byte) *conn {
	t.Helper()
	addr := net.JoinHostPort(topo.ServerAddr.String(), strconv.Itoa(port))
	var c net.Conn
	if err := topo.Client.Do(func() error {
		var err error
		c, err = d.DialContext(context.Background(), "tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("%s: dial %s: %v", name, addr, err)
	}
	k := &conn{name: name, c: c, died: make(chan struct{})}
	t.Cleanup(func() { c.Close() })
	serverMode := mode
	if mode == 's' {
		serverMode = modeHold
	}
	if _, err := c.Write([]byte{serverMode}); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if mode == modeEcho {
		return k
	}
	go func() {
		_, err := io.Copy(io.Discard, c)
		if err == nil {
			err = io.EOF
		}
		k.fail(err)
	}()
	if mode == 's' {
		go func() {
			buf := make([]byte, 512)
			for {
				if _, err := c.Write(buf); err != nil {
					k.fail(err)
					return
				}
				select {
				case <-k.died:
					return
				case <-time.After(writePeriod):
				}
			}
		}()
	}
	return k
}

// TestIntegrationDeadPeerBlackhole cuts every packet between client and
// server in the router and checks that flatline connections in every state
// fail within their plan's bound plus its stated slack, while Go's default
// dialer leaves an idle and a writing connection open after twice the
// timeout.
func TestIntegrationDeadPeerBlackhole(t *testing.T) {
	for _, timeout := range []time.Duration{3 * time.Second, 5 * time.Second} {
		t.Run(timeout.String(), func(t *testing.T) {
			t.Parallel()
			testBlackhole(t, timeout)
		})
	}
}

func testBlackhole(t *testing.T, timeout time.Duration) {
	topo := newTopology(t)
	cfg := flatline.Config{Timeout: timeout}
	plan, err := cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	srv := listen(t, topo, 7000, &cfg)
	listen(t, topo, 7001, nil)

	fd := &flatline.Dialer{Config: cfg}
	var gd net.Dialer
	checks := []struct {
		k     *conn
		state flatline.State
		extra time.Duration // workload latency on top of the plan's bound
		cause flatline.Cause
	}{
		{dial(t, topo, "idle", fd, 7000, modeHold), flatline.StateIdle, 0, flatline.CauseKeepalive},
		{dial(t, topo, "sending", fd, 7000, 's'), flatline.StateSending, writePeriod, flatline.CauseUnacked},
		{dial(t, topo, "receiving", fd, 7000, modeReceive), flatline.StateReceiving, writePeriod, flatline.CauseKeepalive},
	}
	lone := dial(t, topo, "one write after the fault", fd, 7000, modeHold)
	checks = append(checks, struct {
		k     *conn
		state flatline.State
		extra time.Duration
		cause flatline.Cause
	}{lone, flatline.StateSending, 0, flatline.CauseUnacked})
	dial(t, topo, "server-side idle (client end)", fd, 7000, modeIdle)
	goIdle := dial(t, topo, "go-default idle", &gd, 7001, modeHold)
	goSending := dial(t, topo, "go-default sending", &gd, 7001, 's')

	// Let every workload run for a moment, so the fault finds them in
	// their states (data flowing, keepalive armed).
	roundTrip(t, topo, fd, 7000)

	if err := topo.Apply(topology.Blackhole); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	// The worst sending case: a single segment, so a tail-loss probe and a
	// full RTO pass before the user timeout starts counting.
	if _, err := lone.c.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}

	// A dial into the cut path.
	connectDone := make(chan death, 1)
	go func() {
		addr := net.JoinHostPort(topo.ServerAddr.String(), "7000")
		var c net.Conn
		err := topo.Client.Do(func() error {
			var err error
			c, err = fd.DialContext(context.Background(), "tcp", addr)
			return err
		})
		if c != nil {
			c.Close()
		}
		connectDone <- death{at: time.Now(), err: err, cause: flatline.Diagnose(nil, err)}
	}()

	limit := func(s flatline.State, extra time.Duration) time.Duration {
		d, ok := plan.Bound(s).Deadline()
		if !ok {
			t.Fatalf("plan says %s is never detected", s)
		}
		return d + extra + schedSlack
	}
	overall := time.After(2*timeout + 2*time.Second)

	for _, c := range checks {
		lim := limit(c.state, c.extra)
		select {
		case <-c.k.died:
		case <-overall:
			t.Fatalf("%s: still open %v after the blackhole; plan bound %v", c.k.name, time.Since(t0), lim)
		}
		got := c.k.d.at.Sub(t0)
		t.Logf("%s: died after %v (bound %v, plan %v): %v [%v]", c.k.name, got.Round(time.Millisecond), lim, plan.Bound(c.state), c.k.d.err, c.k.d.cause)
		if got > lim {
			t.Errorf("%s: died after %v, later than the plan's %v + slack + %v = %v", c.k.name, got, plan.Bound(c.state), schedSlack, lim)
		}
		if c.k.d.cause != c.cause {
			t.Errorf("%s: cause %v, want %v (error %v)", c.k.name, c.k.d.cause, c.cause, c.k.d.err)
		}
		// The socket error is reported once: a goroutine that reads after
		// another one took it sees end of file, and must not be told the
		// peer closed.
		if got := flatline.Diagnose(c.k.c, io.EOF); got != c.cause {
			t.Errorf("%s: Diagnose(conn, io.EOF) after the kernel gave up = %v, want %v", c.k.name, got, c.cause)
		}
	}

	select {
	case d := <-srv.idleErrs:
		got, lim := d.at.Sub(t0), limit(flatline.StateIdle, 0)
		t.Logf("server-side idle: died after %v (bound %v): %v [%v]", got.Round(time.Millisecond), lim, d.err, d.cause)
		if got > lim {
			t.Errorf("accepted connection died after %v, later than %v", got, lim)
		}
		if d.cause != flatline.CauseKeepalive {
			t.Errorf("accepted connection: cause %v, want keepalive (error %v)", d.cause, d.err)
		}
	case <-overall:
		t.Fatal("accepted idle connection still open")
	}

	select {
	case d := <-connectDone:
		got, lim := d.at.Sub(t0), limit(flatline.StateConnecting, 0)
		t.Logf("connect: failed after %v (bound %v): %v [%v]", got.Round(time.Millisecond), lim, d.err, d.cause)
		if d.err == nil {
			t.Error("dial into a cut path succeeded")
		}
		if got > lim {
			t.Errorf("dial failed after %v, later than %v", got, lim)
		}
		if d.cause != flatline.CauseConnectTimeout {
			t.Errorf("dial: cause %v, want connect-timeout (error %v)", d.cause, d.err)
		}
	case <-overall:
		t.Fatal("dial into the cut path still pending")
	}

	// Go's defaults: still open at 2T.
	wait := time.Until(t0.Add(2 * timeout))
	select {
	case <-goIdle.died:
		t.Errorf("go-default idle connection died after %v: %v (expected to stay open past 2T)", goIdle.d.at.Sub(t0), goIdle.d.err)
	case <-goSending.died:
		t.Errorf("go-default sending connection died after %v: %v (expected to stay open past 2T)", goSending.d.at.Sub(t0), goSending.d.err)
	case <-time.After(wait):
		t.Logf("go-default idle and sending connections still open after %v", 2*timeout)
	}
}

// roundTrip makes one echo exchange through the topology, which proves the
// path works and gives the workloads time to start.
func roundTrip(t *testing.T, topo *topology.Topology, fd *flatline.Dialer, port int) {
	t.Helper()
	k := dial(t, topo, "echo", fd, port, modeEcho)
	defer k.c.Close()
	if err := echoOnce(k.c, "ping"); err != nil {
		t.Fatal(err)
	}
}

// echoOnce writes msg and reads it back, within 5 s.
func echoOnce(c net.Conn, msg string) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echo: got %q, want %q", got, msg)
	}
	return nil
}

// TestIntegrationBlipSurvives blackholes the path for less than one probe
// interval: flatline connections, which tolerate a lost probe, survive it
// and still carry data afterwards.
func TestIntegrationBlipSurvives(t *testing.T) {
	topo := newTopology(t)
	cfg := flatline.Config{Timeout: 3 * time.Second}
	plan, err := cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if plan.LostProbes() < 1 {
		t.Fatalf("plan tolerates %d lost probes; the blip test needs 1", plan.LostProbes())
	}
	listen(t, topo, 7000, &cfg)
	fd := &flatline.Dialer{Config: cfg}
	conns := []*conn{
		dial(t, topo, "idle", fd, 7000, modeHold),
		dial(t, topo, "sending", fd, 7000, 's'),
		dial(t, topo, "receiving", fd, 7000, modeReceive),
	}
	echo := dial(t, topo, "echo", fd, 7000, modeEcho)

	blip := plan.Settings.Interval * 8 / 10
	if err := topo.Apply(topology.Blackhole); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	select {
	case <-time.After(blip):
	case <-conns[0].died:
	}
	if err := topo.Heal(); err != nil {
		t.Fatal(err)
	}
	healed := time.Since(t0)
	// Past the longest bound: a connection the blip doomed would be dead.
	watch := time.After(time.Until(t0.Add(plan.Timeout + time.Second)))
	for _, k := range conns {
		select {
		case <-k.died:
			t.Errorf("%s died after a %v blip (healed after %v): %v", k.name, blip, healed, k.d.err)
		case <-watch:
			watch = closedChan()
		}
	}
	// The echo connection still carries data.
	if err := echoOnce(echo.c, fmt.Sprintf("after %v", blip)); err != nil {
		t.Errorf("echo after the blip: %v", err)
	}
	t.Logf("blip of %v (healed after %v): idle, sending, receiving and echo connections all alive %v after it began", blip, healed.Round(time.Millisecond), plan.Timeout+time.Second)
}

func closedChan() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}
