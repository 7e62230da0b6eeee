package exporter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Defaults of the zero HTTPConfig.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxConns          = 64
)

// HTTPConfig bounds what clients of the exporter's HTTP server may hold:
// any local process can connect to it, and a client that connects and
// stays, or sends half a request, must not keep a descriptor forever nor
// starve the scans of them. The zero value has the defaults above.
type HTTPConfig struct {
	// ReadHeaderTimeout bounds the time to read a request's headers;
	// zero means DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the time to read a whole request, body included
	// (a POST that announces 10 bytes and sends 3 is closed when it
	// expires); zero means DefaultReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request's headers
	// to the end of the response; zero means DefaultWriteTimeout. The
	// /metrics handler gives up after 30 s itself.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no new request
	// for this long; zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxConns caps the connections served at once; zero means
	// DefaultMaxConns. At the cap a new connection closes the connection
	// idle (or silent since it connected) the longest, so that scrapes are
	// answered while idle clients hold every slot; when every connection
	// is busy it waits for one to end (at most ReadTimeout + WriteTimeout).
	MaxConns int
}

// Validate explains the first field that cannot work.
func (c HTTPConfig) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read header timeout", c.ReadHeaderTimeout}, {"read timeout", c.ReadTimeout}, {"write timeout", c.WriteTimeout}, {"idle timeout", c.IdleTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("exporter: HTTP %s %v: want a positive duration (or zero for the default)", d.name, d.v)
		}
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("exporter: HTTP max connections %d: want a positive count (or zero for %d)", c.MaxConns, DefaultMaxConns)
	}
	return nil
}

// Serve serves h on ln with c's bounds until ctx is done, then shuts the
// server down (waiting up to 5 s for requests in flight) and returns nil.
// It returns the listener's error if serving fails first. ln is closed
// when Serve returns.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, c HTTPConfig) error {
	if err := c.Validate(); err != nil {
		ln.Close()
		return err
	}
	lim := newConnLimiter(ln, cmpOr(c.MaxConns, DefaultMaxConns))
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cmpOr(c.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       cmpOr(c.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      cmpOr(c.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       cmpOr(c.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    16 << 10,
		ConnState:         lim.track,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lim) }()
	select {
	case err := <-served:
		return fmt.Errorf("exporter: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shut, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := srv.Shutdown(shut); err != nil {
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("exporter: serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// connLimiter is a listener that serves at most max connections: at the
// cap it closes the connection idle the longest, or waits for one to end.
type connLimiter struct {
	net.Listener
	max int

	mu     sync.Mutex
	freed  *sync.Cond
	conns  map[net.Conn]connEntry
	closed bool
}

type connEntry struct {
	state http.ConnState
	since time.Time
}

func newConnLimiter(ln net.Listener, max int) *connLimiter {
	l := &connLimiter{Listener: ln, max: max, conns: make(map[net.Conn]connEntry)}
	l.freed = sync.NewCond(&l.mu)
	return l
}

// Accept accepts a connection and makes room for it.
func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.conns) >= l.max && !l.closed {
		if v := l.longestIdle(); v != nil {
			delete(l.conns, v)
			v.Close() // its server goroutine sees the error and ends
			break
		}
		l.freed.Wait()
	}
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	l.conns[c] = connEntry{state: http.StateNew, since: time.Now()}
	return c, nil
}

// longestIdle is the connection idle the longest, or, if none is idle,
// the one silent the longest since it connected; nil if every connection
// is in a request. l.mu is held.
func (l *connLimiter) longestIdle() net.Conn {
	var best net.Conn
	var bestE connEntry
	for c, e := range l.conns {
		if e.state != http.StateIdle && e.state != http.StateNew {
			continue
		}
		better := best == nil ||
			(e.state == http.StateIdle && bestE.state == http.StateNew) ||
			(e.state == bestE.state && e.since.Before(bestE.since))
		if better {
			best, bestE = c, e
		}
	}
	return best
}

// track is the server's ConnState hook.
func (l *connLimiter) track(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.conns[c]
	if !ok {
		return // closed by Accept to make room
	}
	switch s {
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
		l.freed.Signal()
	default:
		l.conns[c] = connEntry{state: s, since: time.Now()}
	}
}

// Close closes the listener and wakes an Accept waiting for room.
func (l *connLimiter) Close() error {
	l.mu.Lock()
	l.closed = true
	l.freed.Broadcast()
	l.mu.Unlock()
	return l.Listener.Close()
}
