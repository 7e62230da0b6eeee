package flatline_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/google/go-cmp/cmp"
)

func loopbackListener(t *testing.T, cfg *flatline.Config) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	if cfg != nil {
		lc := flatline.ListenConfig{Config: *cfg}
		ln, err = lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func accept(t *testing.T, ln net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(ch)
			return
		}
		t.Cleanup(func() { c.Close() })
		ch <- c
	}()
	return ch
}

func wantSettings(t *testing.T, cfg flatline.Config) flatline.Settings {
	t.Helper()
	p, err := cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return p.Settings
}

func TestDialerAndListenerSetTheirPlan(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("read-back of TCP_USER_TIMEOUT is Linux's")
	}
	cfg := flatline.Config{Timeout: 10 * time.Second}
	want := wantSettings(t, cfg)
	ln := loopbackListener(t, &cfg)
	accepted := accept(t, ln)

	d := flatline.Dialer{Config: cfg}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*net.TCPConn); !ok {
		t.Errorf("Dial returned %T, want *net.TCPConn", c)
	}
	got, err := flatline.ReadSettings(c.(syscall.Conn))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, withoutSyn(got)); diff != "" {
		t.Errorf("dialed connection (-want +got):\n%s", diff)
	}
	sc := <-accepted
	if sc == nil {
		t.Fatal("accept failed")
	}
	got, err = flatline.ReadSettings(sc.(syscall.Conn))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, withoutSyn(got)); diff != "" {
		t.Errorf("accepted connection (-want +got):\n%s", diff)
	}
	// No deadline behind the user's back: a read with nothing to read
	// blocks until our own short deadline.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) && flatline.Diagnose(c, err) != flatline.CauseDeadline {
		t.Errorf("read: %v (%v), want our own deadline", err, flatline.Diagnose(c, err))
	}
}

// withoutSyn drops TCP_SYNCNT, which reads back as the host's default.
func withoutSyn(s flatline.Settings) flatline.Settings { s.SynCount = 0; return s }

func TestConfigureExistingConn(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("read-back of TCP_USER_TIMEOUT is Linux's")
	}
	ln := loopbackListener(t, nil)
	accept(t, ln)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before, err := flatline.ReadSettings(c.(syscall.Conn))
	if err != nil {
		t.Fatal(err)
	}
	if before.UserTimeout != 0 || before.Idle != 15*time.Second {
		t.Fatalf("plain net.Dialer: %+v, want Go's 15 s keepalive and no user timeout", before)
	}
	cfg := flatline.Config{Timeout: 5 * time.Second}
	// Through a tls.Conn wrapper: Configure finds the TCP connection.
	if err := flatline.Configure(tls.Client(c, &tls.Config{}), cfg); err != nil {
		t.Fatal(err)
	}
	got, err := flatline.ReadSettings(c.(syscall.Conn))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantSettings(t, cfg), withoutSyn(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDialerErrors(t *testing.T) {
	d := flatline.Dialer{Config: flatline.Config{Timeout: time.Second}}
	if _, err := d.Dial("tcp", "127.0.0.1:1"); !errors.Is(err, flatline.ErrInvalidConfig) {
		t.Errorf("bad config: %v, want ErrInvalidConfig", err)
	}
	d = flatline.Dialer{}
	if _, err := d.Dial("udp", "127.0.0.1:1"); !errors.Is(err, flatline.ErrNotTCP) {
		t.Errorf("udp: %v, want ErrNotTCP", err)
	}
	var lc flatline.ListenConfig
	if _, err := lc.Listen(context.Background(), "unix", "/tmp/x"); !errors.Is(err, flatline.ErrNotTCP) {
		t.Errorf("listen unix: %v, want ErrNotTCP", err)
	}
	if err := flatline.Configure(fakeConn{}, flatline.Config{}); !errors.Is(err, flatline.ErrNotTCP) {
		t.Errorf("Configure on a non-socket: %v, want ErrNotTCP", err)
	}
}

type fakeConn struct{ net.Conn }

func TestDialerCallsUserControl(t *testing.T) {
	ln := loopbackListener(t, nil)
	accept(t, ln)
	called := false
	d := flatline.Dialer{}
	d.Control = func(network, address string, c syscall.RawConn) error { called = true; return nil }
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !called {
		t.Error("the embedded net.Dialer's Control was not called")
	}
	boom := errors.New("boom")
	d.Control = func(string, string, syscall.RawConn) error { return boom }
	if _, err := d.Dial("tcp", ln.Addr().String()); !errors.Is(err, boom) {
		t.Errorf("Control error %v not returned", err)
	}
}

func TestDiagnoseOnLoopback(t *testing.T) {
	// Refused: nothing listens on a port we just closed.
	ln := loopbackListener(t, nil)
	addr := ln.Addr().String()
	ln.Close()
	d := flatline.Dialer{}
	_, err := d.Dial("tcp", addr)
	if got := flatline.Diagnose(nil, err); got != flatline.CauseRefused {
		t.Errorf("refused dial: %v (%v)", got, err)
	}

	// Reset: the peer closes with SO_LINGER 0.
	ln = loopbackListener(t, nil)
	accepted := accept(t, ln)
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	if _, err := sc.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	sc.(*net.TCPConn).SetLinger(0)
	sc.Close()
	_, err = io.ReadAll(c)
	if got := flatline.Diagnose(c, err); got != flatline.CauseReset || !got.DeadPeer() {
		t.Errorf("reset: %v (%v)", got, err)
	}

	// A FIN: the peer closed, whatever else.
	ln2 := loopbackListener(t, nil)
	accepted2 := accept(t, ln2)
	c2, err := d.Dial("tcp", ln2.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	(<-accepted2).Close()
	_, err = io.ReadAll(c2)
	if err == nil {
		err = io.EOF // ReadAll turns EOF into nil; the Read saw it
	}
	if got := flatline.Diagnose(c2, err); got != flatline.CausePeerClosed {
		t.Errorf("FIN: %v (%v)", got, err)
	}

	// Local close and local deadline are not a dead peer.
	c.Close()
	_, err = c.Read(make([]byte, 1))
	if got := flatline.Diagnose(c, err); got != flatline.CauseLocalClose || got.DeadPeer() {
		t.Errorf("local close: %v (%v)", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = d.DialContext(ctx, "tcp", ln.Addr().String())
	if got := flatline.Diagnose(nil, err); got != flatline.CauseCanceled {
		t.Errorf("canceled dial: %v (%v)", got, err)
	}
}

func TestCauseNames(t *testing.T) {
	seen := map[string]bool{}
	for c := flatline.CauseNone; c <= flatline.CauseAborted; c++ {
		n := c.String()
		if n == "" || seen[n] {
			t.Errorf("cause %d: name %q empty or repeated", c, n)
		}
		seen[n] = true
	}
	if flatline.Cause(99).String() != "unknown" {
		t.Error("out-of-range cause")
	}
}
