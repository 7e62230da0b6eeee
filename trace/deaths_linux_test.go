package trace

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/flatline-dev/flatline/internal/topology"
	"golang.org/x/sys/unix"
)

// sockopts are explicit socket settings for a provoked death.
type sockopts struct {
	idle, intvl, cnt int           // keepalive, seconds and count; idle 0: keepalive off
	userTimeout      time.Duration // TCP_USER_TIMEOUT; 0: unset
	sndbuf           int           // SO_SNDBUF; 0: default
}

func (o sockopts) control(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		set := func(level, opt, v int) {
			if serr == nil {
				serr = os.NewSyscallError("setsockopt", unix.SetsockoptInt(int(fd), level, opt, v))
			}
		}
		if o.idle > 0 {
			set(unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
			set(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, o.idle)
			set(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, o.intvl)
			set(unix.IPPROTO_TCP, unix.TCP_KEEPCNT, o.cnt)
		}
		if o.userTimeout > 0 {
			set(unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(o.userTimeout/time.Millisecond))
		}
		if o.sndbuf > 0 {
			set(unix.SOL_SOCKET, unix.SO_SNDBUF, o.sndbuf)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// death is one provoked connection death and what trace must say of it.
type death struct {
	name      string
	opts      sockopts
	cause     flatline.Cause
	limit     string
	errno     syscall.Errno
	local     netip.AddrPort // filled when the connection is made
	appErr    error          // the error the application saw
	appCauseD flatline.Cause // flatline.Diagnose of it
}

// TestIntegrationTraceDeaths provokes, between the lab's namespaces, the
// deaths the kernel tells apart (keepalive silence, unacknowledged data
// under a user timeout, a peer's RST, a window kept closed past the user
// timeout, SYNs unanswered) while the tracer runs, and checks the event of
// each: cause, limit, errno, owner and settings.
func TestIntegrationTraceDeaths(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	top := testutil.Topology(t)

	tr, err := New(Options{PID: os.Getpid(), NetNSPath: top.Client.Path})
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	// The server accepts and never reads; a conn it is told to reset is
	// closed with SO_LINGER 0 (an RST).
	var ln net.Listener
	if err := top.Server.Do(func() error {
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
		}}
		var err error
		ln, err = lc.Listen(ctx, "tcp4", netip.AddrPortFrom(top.ServerAddr, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *net.TCPConn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c.(*net.TCPConn)
		}
	}()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()

	dial := func(o sockopts) (*net.TCPConn, error) {
		var c net.Conn
		err := top.Client.Do(func() error {
			d := net.Dialer{Control: o.control, KeepAlive: -1, Timeout: 10 * time.Second}
			var err error
			c, err = d.DialContext(ctx, "tcp4", ln.Addr().String())
			return err
		})
		if err != nil {
			return nil, err
		}
		held = append(held, c)
		return c.(*net.TCPConn), nil
	}
	server := func() *net.TCPConn {
		select {
		case s := <-accepted:
			held = append(held, s)
			return s
		case <-ctx.Done():
			t.Fatal("no connection accepted")
			return nil
		}
	}

	deaths := []*death{
		{name: "reset", cause: flatline.CauseReset, errno: syscall.ECONNRESET},
		{name: "closed-window", opts: sockopts{userTimeout: 2 * time.Second, sndbuf: 4096}, cause: flatline.CauseClosedWindow, limit: LimitUserTimeout, errno: syscall.ETIMEDOUT},
		{name: "keepalive", opts: sockopts{idle: 1, intvl: 1, cnt: 2}, cause: flatline.CauseKeepalive, limit: LimitKeepCnt, errno: syscall.ETIMEDOUT},
		{name: "unacked-data", opts: sockopts{idle: 5, intvl: 5, cnt: 2, userTimeout: 2 * time.Second}, cause: flatline.CauseUnacked, limit: LimitUserTimeout, errno: syscall.ETIMEDOUT},
		{name: "connect-timeout", opts: sockopts{userTimeout: 1500 * time.Millisecond}, cause: flatline.CauseConnectTimeout, limit: LimitUserTimeout, errno: syscall.ETIMEDOUT},
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	appDied := func(d *death, c net.Conn, err error) {
		mu.Lock()
		d.appErr, d.appCauseD = err, flatline.Diagnose(c, err)
		mu.Unlock()
	}
	// keep reads c until it fails; write keeps writing to it.
	keep := func(d *death, c *net.TCPConn, write bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<14)
			for {
				var err error
				if write {
					_, err = c.Write(buf)
				} else {
					_, err = c.Read(buf)
				}
				if err != nil {
					appDied(d, c, err)
					return
				}
			}
		}()
	}
	var unacked *net.TCPConn
	for _, d := range deaths[:4] {
		c, err := dial(d.opts)
		if err != nil {
			t.Fatalf("%s: dial: %v", d.name, err)
		}
		d.local = netip.MustParseAddrPort(c.LocalAddr().String())
		s := server()
		switch d.name {
		case "reset":
			keep(d, c, false)
			s.SetLinger(0)
			s.Close()
		case "closed-window":
			keep(d, c, true) // the server never reads: the window closes
		case "keepalive":
			keep(d, c, false)
		case "unacked-data":
			unacked = c // writes only behind the blackhole, or its window closes too
		}
	}
	got := map[string]Event{}
	collect := func(want ...*death) {
		t.Helper()
		for {
			done := true
			for _, d := range want {
				if _, ok := got[d.name]; !ok {
					done = false
				}
			}
			if done {
				return
			}
			e, err := tr.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for deaths, got %v: %v", keys(got), err)
			}
			t.Logf("event %s", jsonOf(e))
			for _, d := range deaths {
				if d.local.IsValid() && e.Local == d.local || d.name == "connect-timeout" && e.State == "syn-sent" {
					got[d.name] = e
				}
			}
		}
	}
	// The window must close and kill before the blackhole: the server's
	// kernel answers the zero-window probes with a zero window.
	collect(deaths[0], deaths[1])

	// A reset over IPv6, where the kernel has it: the event's addresses
	// are IPv6.
	if top.ClientAddr6.IsValid() {
		var ln6 net.Listener
		if err := top.Server.Do(func() error {
			var err error
			ln6, err = net.Listen("tcp6", netip.AddrPortFrom(top.ServerAddr6, 0).String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer ln6.Close()
		var c6 net.Conn
		if err := top.Client.Do(func() error {
			var err error
			c6, err = (&net.Dialer{KeepAlive: -1}).DialContext(ctx, "tcp6", ln6.Addr().String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		held = append(held, c6)
		s6, err := ln6.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s6.(*net.TCPConn).SetLinger(0)
		s6.Close()
		want := netip.MustParseAddrPort(c6.LocalAddr().String())
		for {
			e, err := tr.Read(ctx)
			if err != nil {
				t.Fatalf("no IPv6 reset: %v", err)
			}
			if e.Local == want {
				if e.Cause != flatline.CauseReset || !e.Local.Addr().Is6() || e.Remote.Addr() != top.ServerAddr6 {
					t.Errorf("IPv6 reset: %s", jsonOf(e))
				}
				break
			}
		}
	} else {
		t.Log("no IPv6 in the lab's namespaces: the IPv6 reset is not checked")
	}
	if err := top.Apply(topology.Blackhole); err != nil {
		t.Fatal(err)
	}
	keep(deaths[3], unacked, true)
	cd := deaths[4]
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := dial(cd.opts)
		appDied(cd, nil, err)
	}()
	collect(deaths[2:]...)
	wg.Wait()
	for _, d := range deaths {
		e := got[d.name]
		var bad []string
		if e.Cause != d.cause {
			bad = append(bad, fmt.Sprintf("cause %v, want %v", e.Cause, d.cause))
		}
		if e.Limit != d.limit {
			bad = append(bad, fmt.Sprintf("limit %q, want %q", e.Limit, d.limit))
		}
		if e.Errno != d.errno {
			bad = append(bad, fmt.Sprintf("errno %v, want %v", e.Errno, d.errno))
		}
		if e.PID != os.Getpid() || e.Comm == "" {
			bad = append(bad, fmt.Sprintf("owner %d %q, want %d", e.PID, e.Comm, os.Getpid()))
		}
		if e.UserTimeout != d.opts.userTimeout {
			bad = append(bad, fmt.Sprintf("user timeout %v, want %v", e.UserTimeout, d.opts.userTimeout))
		}
		if d.opts.idle > 0 && (!e.Keepalive || e.KeepIdle != time.Duration(d.opts.idle)*time.Second || e.KeepCnt != d.opts.cnt) {
			bad = append(bad, fmt.Sprintf("keepalive %v %v/%v/%d, want %ds/%ds/%d", e.Keepalive, e.KeepIdle, e.KeepIntvl, e.KeepCnt, d.opts.idle, d.opts.intvl, d.opts.cnt))
		}
		if len(bad) > 0 {
			t.Errorf("%s: %s\n\tevent %s\n\tapplication: %v (Diagnose: %v)", d.name, strings.Join(bad, "; "), jsonOf(e), d.appErr, d.appCauseD)
		}
	}
	if n, err := tr.Lost(); err != nil || n != 0 {
		t.Errorf("lost events: %d, %v", n, err)
	}
}

func keys(m map[string]Event) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return s
}

func jsonOf(e Event) string {
	b, err := e.MarshalJSON()
	if err != nil {
		return err.Error()
	}
	return string(b)
}
