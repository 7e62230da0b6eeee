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
