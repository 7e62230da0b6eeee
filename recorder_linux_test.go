package flatline_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/topology"
	"golang.org/x/sys/unix"
)

// hidingDriver reads c like a database driver that rewrites errors: it
// returns io.ErrUnexpectedEOF for any failure and closes c first.
func hidingDriver(c net.Conn) error {
	_, err := c.Read(make([]byte, 1))
	if err == nil {
		return nil
	}
	c.Close()
	return io.ErrUnexpectedEOF
}

// waitKernelEnd blocks until the kernel has ended c (TCP_INFO state
// CLOSE), without reading c or its pending error: on the socket's
// readiness, not by polling.
func waitKernelEnd(t *testing.T, c net.Conn) {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Read(func(fd uintptr) bool {
		ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		return err != nil || ti.State == 7
	}); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationRecorder checks that a Recorder tells the cause that a
// driver hides: from the failed Read before the driver's rewrite, and from
// the socket at Close when the driver closes without reading the error.
func TestIntegrationRecorder(t *testing.T) {
	topo := newTopology(t)
	var ln net.Listener
	if err := topo.Server.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(topo.ServerAddr, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	ends := make(chan flatline.End, 8)
	rec := &flatline.Recorder{OnEnd: func(e flatline.End) { ends <- e }}
	dial := rec.DialContext(&flatline.Dialer{Config: flatline.Config{Timeout: 3 * time.Second}})
	open := func() (net.Conn, net.Conn) {
		t.Helper()
		var c net.Conn
		if err := topo.Client.Do(func() error {
			var err error
			c, err = dial(context.Background(), "tcp4", ln.Addr().String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		t.Cleanup(func() { c.Close(); s.Close() })
		return c, s
	}

	// A healthy connection closed by the application.
	c, _ := open()
	c.Close()
	if e, ok := rec.Of(c); !ok || e.Cause != flatline.CauseLocalClose || !e.AtClose {
		t.Errorf("closed locally: %+v, %v", e, ok)
	}

	// A peer's RST that the driver never reads: told at Close.
	c, s := open()
	s.(*net.TCPConn).SetLinger(0)
	s.Close()
	waitKernelEnd(t, c)
	c.Close()
	if e, ok := rec.Of(c); !ok || e.Cause != flatline.CauseReset || !e.AtClose || !errors.Is(e.Err, syscall.ECONNRESET) {
		t.Errorf("reset, closed unread: %+v, %v", e, ok)
	}

	// Keepalive silence behind a blackhole, the driver rewriting the
	// error: the Read saw ETIMEDOUT before the rewrite.
	idle, _ := open()
	unread, _ := open()
	if err := topo.Apply(topology.Blackhole); err != nil {
		t.Fatal(err)
	}
	driverErr := make(chan error, 1)
	go func() { driverErr <- hidingDriver(idle) }()
	if err := <-driverErr; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("driver: %v", err)
	}
	e, ok := rec.Of(idle)
	if !ok || e.Cause != flatline.CauseKeepalive || e.AtClose || !errors.Is(e.Err, syscall.ETIMEDOUT) {
		t.Errorf("keepalive behind a hiding driver: %+v, %v", e, ok)
	}
	if got, ok := rec.Lookup(idle.LocalAddr().String(), idle.RemoteAddr().String()); !ok || got.Cause != e.Cause {
		t.Errorf("Lookup by address: %+v, %v", got, ok)
	}

	// The same death never read, closed by the application (net/http's
	// Transport does this): told at Close from SO_ERROR and TCP_INFO.
	waitKernelEnd(t, unread)
	unread.Close()
	if e, ok := rec.Of(unread); !ok || e.Cause != flatline.CauseKeepalive || !e.AtClose {
		t.Errorf("keepalive, closed unread: %+v, %v", e, ok)
	}
	for range 4 {
		select {
		case <-ends:
		default:
			t.Errorf("OnEnd called fewer than 4 times")
		}
	}
}
