package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
	"golang.org/x/sys/unix"
)

// EndpointEnv carries an endpoint's spec ("workload config timeout") to a
// re-executed lab endpoint process. A program that serves as the lab's
// endpoint calls RunEndpoint when it finds this variable set.
const EndpointEnv = "FLATLINE_LAB_ENDPOINT"

// endpointPort is where the server endpoint listens in its namespace.
const endpointPort = 7000

// Workload traffic: the period and size of the steady writes.
const (
	period     = 50 * time.Millisecond
	sendChunk  = 2 << 10 // sending: 2 KiB per period, 40 KiB/s
	recvChunk  = 1 << 10 // receiving: the server writes 1 KiB per period
	recordSize = 256     // replication: one log record
	ackSize    = 8       // replication: one acknowledgement
)

// RunEndpoint is the server side of a lab cell, run in its own process in
// the server namespace: it reads its spec from EndpointEnv, listens with the
// cell's configuration, writes "ready\n" to ready, and serves the workload
// until ctx ends or it is killed. SIGUSR1 aborts every connection with an
// RST (SO_LINGER 0), which is the reset fault.
func RunEndpoint(ctx context.Context, ready io.Writer) error {
	if spec, ok := strings.CutPrefix(os.Getenv(EndpointEnv), soakSpecPrefix); ok {
		return runSoakEndpoint(ctx, spec, ready)
	}
	if os.Getenv(DialEnv) != "" {
		return runDialEndpoint(ctx, ready)
	}
	spec := os.Getenv(EndpointEnv)
	var w, c string
	var t time.Duration
	if f := strings.Fields(spec); len(f) == 3 {
		w, c = f[0], f[1]
		t, _ = time.ParseDuration(f[2])
	}
	if w == "" || t <= 0 {
		return fmt.Errorf("lab endpoint: bad %s %q, want \"workload config timeout\"", EndpointEnv, spec)
	}
	ln, err := listen(ctx, ConfigName(c), t, fmt.Sprintf(":%d", endpointPort))
	if err != nil {
		return err
	}
	defer ln.Close()
	if ConfigName(c) == FlatlineHeartbeat {
		stop, err := serveHeartbeat(ctx, t)
		if err != nil {
			return err
		}
		defer stop()
	}

	abort := make(chan os.Signal, 1)
	signal.Notify(abort, syscall.SIGUSR1)
	defer signal.Stop(abort)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		select {
		case <-abort:
		case <-ctx.Done():
		}
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close() // SO_LINGER 0: RST
		}
		ln.Close()
	}()

	if _, err := io.WriteString(ready, "ready\n"); err != nil {
		return err
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		// Abortive close: a killed endpoint leaves no socket behind (as
		// after a reboot) and a closed one sends RST.
		conn.(*net.TCPConn).SetLinger(0)
		mu.Lock()
		conns = append(conns, conn)
		mu.Unlock()
		go serveConn(conn, Workload(w))
	}
}

func serveConn(c net.Conn, w Workload) {
	switch w {
	case ZeroWindow:
		// Never read: the window closes once the buffer is full.
		return
	case Receiving:
		go io.Copy(io.Discard, c)
		buf := make([]byte, recvChunk)
		for range time.Tick(period) {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	case Replication:
		rec := make([]byte, recordSize)
		ack := make([]byte, ackSize)
		for {
			if _, err := io.ReadFull(c, rec); err != nil {
				return
			}
			if _, err := c.Write(ack); err != nil {
				return
			}
		}
	default:
		io.Copy(io.Discard, c)
	}
}

// listen listens with configuration c at timeout t: the server side of a
// cell carries the same settings as the client.
func listen(ctx context.Context, c ConfigName, t time.Duration, addr string) (net.Listener, error) {
	switch c.socketConfig() {
	case Flatline:
		lc := flatline.ListenConfig{Config: flatline.Config{Timeout: t}}
		return lc.Listen(ctx, "tcp", addr)
	case GoDefault:
		var lc net.ListenConfig
		return lc.Listen(ctx, "tcp", addr)
	}
	s, err := c.Settings(t)
	if err != nil {
		return nil, err
	}
	lc := net.ListenConfig{
		KeepAliveConfig: keepAliveConfig(s),
		Control:         userTimeoutControl(s.UserTimeout),
	}
	return lc.Listen(ctx, "tcp", addr)
}

// dialer returns the client's dialer for configuration c at timeout t.
func dialer(c ConfigName, t time.Duration) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	switch c.socketConfig() {
	case Flatline:
		d := &flatline.Dialer{Config: flatline.Config{Timeout: t}}
		return d.DialContext, nil
	case GoDefault:
		return (&net.Dialer{}).DialContext, nil
	}
	s, err := c.Settings(t)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{KeepAliveConfig: keepAliveConfig(s), Control: userTimeoutControl(s.UserTimeout)}
	return d.DialContext, nil
}

func keepAliveConfig(s flatline.Settings) net.KeepAliveConfig {
	return net.KeepAliveConfig{Enable: s.KeepAlive, Idle: s.Idle, Interval: s.Interval, Count: s.Count}
}

// userTimeoutControl sets TCP_USER_TIMEOUT by hand, as the original story
// did; nil when u is zero. The option is inherited by accepted sockets.
func userTimeoutControl(u time.Duration) func(network, address string, rc syscall.RawConn) error {
	if u <= 0 {
		return nil
	}
	return func(network, address string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(u.Milliseconds()))
		})
		if err != nil {
			return err
		}
		return os.NewSyscallError("setsockopt TCP_USER_TIMEOUT", serr)
	}
}
