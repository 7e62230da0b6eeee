package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/liveness"
)

// heartbeatPort is where a flatline+heartbeat server endpoint accepts
// heartbeat connections.
const heartbeatPort = endpointPort + 1

// heartbeatExpect fills the expectation of a pause cell and of every
// heartbeat cell; decided is false for the others. The heartbeat promises T
// in every state (a silent peer is reported D = T − T/20 after its last
// answer, or earlier by the kernel's own flatline bound), with the kernel's
// slack for the state (at least T/20 for the Go scheduler) and, while
// sending, one workload period.
func heartbeatExpect(r *CellResult, cell Cell, t time.Duration, host flatline.Host) (never bool, deadline time.Duration, decided bool) {
	state := cell.Workload.State()
	if cell.Fault == PeerPaused && state != flatline.StateClosedWindow {
		r.Rule = "a peer paused for " + pauseLength(t).String() + ", less than the heartbeat's pause budget, must not die"
		return true, 0, true
	}
	if cell.Config != FlatlineHeartbeat || cell.Fault == Blip {
		return false, 0, false
	}
	slack := t / 20
	if b, err := Flatline.Bound(t, state, host); err == nil && !b.Never && b.Slack > slack {
		slack = b.Slack
	}
	r.ExpectedS = seconds(t)
	r.SlackS = slack.Seconds()
	r.Rule = "the heartbeat reports a peer silent for T − T/20; the kernel's flatline bound may come first"
	deadline = t + slack
	if state == flatline.StateSending {
		deadline += period
	}
	return false, deadline, true
}

// serveHeartbeat accepts heartbeat connections at heartbeatPort (with
// flatline's settings) and runs a liveness.Monitor on each until the
// returned function is called.
func serveHeartbeat(ctx context.Context, t time.Duration) (stop func(), err error) {
	lc := flatline.ListenConfig{Config: flatline.Config{Timeout: t}}
	ln, err := lc.Listen(ctx, "tcp", fmt.Sprintf(":%d", heartbeatPort))
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var monitors []*liveness.Monitor
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			m, err := liveness.New(conn, liveness.Config{Timeout: t})
			if err != nil {
				conn.Close()
				continue
			}
			mu.Lock()
			monitors = append(monitors, m)
			mu.Unlock()
		}
	}()
	return func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, m := range monitors {
			m.Close()
		}
	}, nil
}

// startHeartbeat dials the server endpoint's heartbeat port from the client
// namespace and reports the link's failure on first, as the application's
// error. Close the returned Monitor when the cell ends.
func startHeartbeat(ctx context.Context, topo *Topology, t time.Duration, first chan<- event) (*liveness.Monitor, error) {
	d := flatline.Dialer{Config: flatline.Config{Timeout: t}}
	addr := net.JoinHostPort(topo.ServerAddr.String(), fmt.Sprint(heartbeatPort))
	var conn net.Conn
	if err := topo.Client.Do(func() error {
		var err error
		conn, err = d.DialContext(ctx, "tcp", addr)
		return err
	}); err != nil {
		return nil, fmt.Errorf("dial heartbeat: %w", err)
	}
	m, err := liveness.New(conn, liveness.Config{Timeout: t})
	if err != nil {
		conn.Close()
		return nil, err
	}
	go func() {
		<-m.Done()
		err := m.Err()
		if errors.Is(err, liveness.ErrClosed) || ctx.Err() != nil {
			return
		}
		select {
		case first <- event{time.Now(), err}:
		default:
		}
	}()
	return m, nil
}
