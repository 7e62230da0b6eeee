package liveness_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/liveness"
)

// schedSlack is what the tests allow beyond a bound for the Go scheduler
// and timers on a loaded 2-core machine (the bound itself already keeps
// Timeout/20 for them).
const schedSlack = 500 * time.Millisecond

// tcpPair returns both ends of a loopback TCP connection made with
// flatline's settings for timeout t.
func tcpPair(t *testing.T, timeout time.Duration) (client, server net.Conn) {
	t.Helper()
	ctx := context.Background()
	cfg := flatline.Config{Timeout: max(timeout, flatline.MinTimeout)}
	lc := flatline.ListenConfig{Config: cfg}
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	d := flatline.Dialer{Config: cfg}
	client, err = d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	return client, server
}

// waitGoroutines waits, bounded, until no more goroutines run than base:
// after Close returns the Monitor's goroutines have run their last
// statement, but the runtime counts them until they have exited.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

func start(t *testing.T, c net.Conn, cfg liveness.Config) *liveness.Monitor {
	t.Helper()
	m, err := liveness.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLinkStaysUp: two healthy ends keep the link for several timeouts, and
// Close leaves no goroutine (and so no timer's goroutine) behind.
func TestLinkStaysUp(t *testing.T) {
	base := runtime.NumGoroutine()
	cfg := liveness.Config{Timeout: time.Second, Progress: time.Second}
	a, b := tcpPair(t, cfg.Timeout)
	ma, mb := start(t, a, cfg), start(t, b, cfg)
	stop := make(chan struct{})
	beating := make(chan struct{})
	go func() { // both work loops make progress
		defer close(beating)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				ma.Beat()
				mb.Beat()
			}
		}
	}()
	select {
	case <-ma.Done():
		t.Fatalf("a: %v", ma.Err())
	case <-mb.Done():
		t.Fatalf("b: %v", mb.Err())
	case <-time.After(4 * cfg.Timeout):
	}
	close(stop)
	<-beating
	ma.Close()
	mb.Close()
	if !errors.Is(ma.Err(), liveness.ErrClosed) {
		t.Errorf("Err after Close = %v, want ErrClosed", ma.Err())
	}
	ma.Close() // twice is fine
	waitGoroutines(t, base)
}

// TestSilentPeer: the other end is a socket nobody reads: the peer's kernel
// acknowledges every ping, no answer comes, and the link fails as
// unresponsive within T, no earlier than the pause budget.
func TestSilentPeer(t *testing.T) {
	base := runtime.NumGoroutine()
	cfg := liveness.Config{Timeout: time.Second}
	a, b := tcpPair(t, cfg.Timeout)
	defer b.Close()
	m := start(t, a, cfg)
	defer m.Close()
	began := time.Now()
	p := m.Plan()
	select {
	case <-m.Done():
	case <-time.After(p.Timeout + schedSlack):
		t.Fatalf("not failed within %v + %v", p.Timeout, schedSlack)
	}
	took := time.Since(began)
	err := m.Err()
	var pe *liveness.PeerError
	if !errors.Is(err, liveness.ErrUnresponsive) || !errors.As(err, &pe) {
		t.Fatalf("Err = %v, want ErrUnresponsive", err)
	}
	if took < p.PauseBudget || pe.Silent < p.Deadline {
		t.Errorf("failed after %v (silent %v): before the pause budget %v or the deadline %v", took, pe.Silent, p.PauseBudget, p.Deadline)
	}
	t.Logf("silent peer reported after %v (%v)", took, err)
	m.Close()
	waitGoroutines(t, base)
}

// TestPeerCloses: an orderly close of the other end ends the link at once as
// unreachable, with io.EOF.
func TestPeerCloses(t *testing.T) {
	cfg := liveness.Config{Timeout: 10 * time.Second}
	a, b := tcpPair(t, cfg.Timeout)
	ma, mb := start(t, a, cfg), start(t, b, cfg)
	defer ma.Close()
	mb.Close()
	select {
	case <-ma.Done():
	case <-time.After(cfg.Timeout):
		t.Fatal("peer's close not seen")
	}
	if err := ma.Err(); !errors.Is(err, liveness.ErrUnreachable) || !errors.Is(err, io.EOF) {
		t.Errorf("Err = %v, want ErrUnreachable and io.EOF", err)
	}
}

// TestNoProgress: the peer answers pings but its work loop never beats.
func TestNoProgress(t *testing.T) {
	cfg := liveness.Config{Timeout: 10 * time.Second, Progress: 3 * time.Second}
	a, b := tcpPair(t, cfg.Timeout)
	ma := start(t, a, cfg)
	mb := start(t, b, liveness.Config{Timeout: cfg.Timeout})
	defer ma.Close()
	defer mb.Close()
	began := time.Now()
	p := ma.Plan()
	select {
	case <-ma.Done():
	case <-time.After(p.ProgressBound + schedSlack):
		t.Fatalf("not failed within %v + %v", p.ProgressBound, schedSlack)
	}
	took := time.Since(began)
	if err := ma.Err(); !errors.Is(err, liveness.ErrNoProgress) {
		t.Fatalf("Err = %v, want ErrNoProgress", err)
	}
	if took < p.Progress {
		t.Errorf("failed after %v, before Progress %v", took, p.Progress)
	}
	if err := mb.Err(); err != nil && !errors.Is(err, liveness.ErrUnreachable) {
		t.Errorf("the stuck end saw %v", err)
	}
}

// TestNotThisProtocol: data that is not liveness frames ends the link with
// ErrBadFrame.
func TestNotThisProtocol(t *testing.T) {
	a, b := tcpPair(t, 10*time.Second)
	defer b.Close()
	m := start(t, a, liveness.Config{Timeout: 10 * time.Second})
	defer m.Close()
	if _, err := io.WriteString(b, "GET / HTTP/1.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("bad frame not seen")
	}
	if err := m.Err(); !errors.Is(err, liveness.ErrBadFrame) {
		t.Errorf("Err = %v, want ErrBadFrame", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := liveness.New(a, liveness.Config{Timeout: time.Millisecond}); !errors.Is(err, flatline.ErrInvalidConfig) {
		t.Errorf("New with a 1 ms timeout: %v, want ErrInvalidConfig", err)
	}
}

// TestOverPipe: a connection that is not a kernel socket (a stream of a
// multiplexer; here a synchronous pipe nobody reads, so every write
// blocks): the Monitor still fails the link on time, as unresponsive (the
// kernel's view is unknown), and Close still returns.
func TestOverPipe(t *testing.T) {
	base := runtime.NumGoroutine()
	a, b := net.Pipe()
	defer b.Close()
	m := start(t, a, liveness.Config{Timeout: 500 * time.Millisecond})
	p := m.Plan()
	select {
	case <-m.Done():
	case <-time.After(p.Timeout + schedSlack):
		t.Fatalf("not failed within %v + %v", p.Timeout, schedSlack)
	}
	if err := m.Err(); !errors.Is(err, liveness.ErrUnresponsive) {
		t.Errorf("Err = %v, want ErrUnresponsive", err)
	}
	m.Close()
	waitGoroutines(t, base)
}
