package trace

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/flatline-dev/flatline/internal/topology"
)

// TestIntegrationTraceAcceptedOwner: an accepted connection that never
// reads or writes (no system call of its own for the tracer to see) dies
// by keepalive behind a blackhole; its owner is the process that called
// listen, recorded when the listener was made.
func TestIntegrationTraceAcceptedOwner(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	top := testutil.Topology(t)
	tr, err := New(Options{NetNSPath: top.Server.Path})
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	var ln net.Listener
	if err := top.Server.Do(func() error {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		ln, err = lc.Listen(ctx, "tcp4", netip.AddrPortFrom(top.ServerAddr, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var c net.Conn
	if err := top.Client.Do(func() error {
		c, err = (&net.Dialer{KeepAlive: -1}).Dial("tcp4", ln.Addr().String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.(*net.TCPConn).SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: time.Second, Interval: time.Second, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if err := top.Apply(topology.Blackhole); err != nil {
		t.Fatal(err)
	}
	for {
		e, err := tr.Read(ctx)
		if err != nil {
			t.Fatalf("no death of the accepted connection %v: %v", s.LocalAddr(), err)
		}
		if e.Local.String() != s.LocalAddr().String() || e.Remote.String() != s.RemoteAddr().String() {
			continue
		}
		if e.Cause != flatline.CauseKeepalive || e.PID != os.Getpid() || e.Comm == "" {
			t.Errorf("accepted connection: cause %v, owner %d %q; want keepalive, %d\n\t%s", e.Cause, e.PID, e.Comm, os.Getpid(), jsonOf(e))
		}
		return
	}
}
