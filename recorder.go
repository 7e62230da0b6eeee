package flatline

import (
	"context"
	"net"
	"sync"
	"time"
)

// End is how a connection ended, recorded at the moment it did.
type End struct {
	Local, Remote net.Addr
	Cause         Cause
	// Err is the error the connection's Read or Write returned, before any
	// driver rewrote it; at Close, the socket's pending error (SO_ERROR),
	// or nil when there was none.
	Err error
	// AtClose is true when the end was read from the socket as the
	// application closed it, the error never having reached a Read or
	// Write (a driver that closes first, as net/http's Transport does).
	AtClose bool
	Time    time.Time
}

// Recorder remembers why connections ended, for code whose driver hides
// the error: pgx reports "unexpected EOF" for a connection the kernel
// ended, grpc-go's errors carry no errno, net/http closes the connection
// before the caller sees the error. Connections dialed through
// Recorder.DialContext, accepted from Recorder.Listener, or passed to Wrap
// record their end when their
// first Read or Write fails, with Diagnose run on the socket while it is
// still open, or, if no error reached them, when they are closed, from the
// socket's pending error and TCP_INFO. Ask afterwards with Of (the
// connection, as the driver exposes it) or Lookup (its addresses), or be
// told by OnEnd.
//
// A Recorder's zero value is ready to use; it is safe for concurrent use.
// The connections it returns are net.Conn values embedding the
// *net.TCPConn (SyscallConn, SetKeepAlive, CloseWrite and the rest work);
// code that type-asserts *net.TCPConn must ask for Recorded.TCPConn.
type Recorder struct {
	// OnEnd, if set, is called once per connection as it ends, on the
	// goroutine whose Read, Write or Close saw it. It must not block.
	OnEnd func(End)
	// Keep is how many ended connections Lookup remembers, oldest
	// forgotten first; zero means 4096.
	Keep int

	mu    sync.Mutex
	ends  map[addrPair]End
	order []addrPair
}

type addrPair struct{ local, remote string }

// DialContext dials with d and returns the connection recording its end:
// a drop-in for a driver's dial function (pgx's DialFunc, net/http's
// Transport.DialContext, gRPC's WithContextDialer).
func (r *Recorder) DialContext(d *Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return r.Wrap(c), nil
	}
}

// Listener returns ln with every accepted connection recording its end
// (wrap a flatline.ListenConfig's listener for servers whose framework
// hides the error).
func (r *Recorder) Listener(ln net.Listener) net.Listener {
	return &recordingListener{Listener: ln, r: r}
}

type recordingListener struct {
	net.Listener
	r *Recorder
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.r.Wrap(c), nil
}

// Wrap returns c recording its end, or c itself when it is not a
// *net.TCPConn.
func (r *Recorder) Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	return &Recorded{TCPConn: tc, r: r}
}

// Of returns how c ended: c is a connection from DialContext or Wrap, or
// a wrapper around one that has a NetConn method (crypto/tls.Conn). It
// returns false while c has not ended, or if it is not recorded.
func (r *Recorder) Of(c net.Conn) (End, bool) {
	for range 8 {
		switch v := c.(type) {
		case *Recorded:
			return v.End()
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return End{}, false
		}
	}
	return End{}, false
}

// Lookup returns how the connection between local and remote
// ("198.51.100.7:41234", "192.0.2.1:5432") ended, if it was recorded and
// is among the Keep most recent.
func (r *Recorder) Lookup(local, remote string) (End, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.ends[addrPair{local, remote}]
	return e, ok
}

func (r *Recorder) record(e End) {
	key := addrPair{addrString(e.Local), addrString(e.Remote)}
	r.mu.Lock()
	if r.ends == nil {
		r.ends = make(map[addrPair]End)
	}
	if _, ok := r.ends[key]; !ok {
		r.order = append(r.order, key)
	}
	r.ends[key] = e
	keep := r.Keep
	if keep <= 0 {
		keep = 4096
	}
	for len(r.order) > keep {
		delete(r.ends, r.order[0])
		r.order = r.order[1:]
	}
	r.mu.Unlock()
	if r.OnEnd != nil {
		r.OnEnd(e)
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Recorded is a connection whose end a Recorder records.
type Recorded struct {
	*net.TCPConn
	r *Recorder

	mu    sync.Mutex
	ended bool
	end   End
}

// End returns how the connection ended, and false while it has not.
func (c *Recorded) End() (End, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end, c.ended
}

// Read reads from the connection, recording its end on a failure that is
// one (not a deadline).
func (c *Recorded) Read(b []byte) (int, error) {
	n, err := c.TCPConn.Read(b)
	if err != nil {
		c.failed(err)
	}
	return n, err
}

// Write writes to the connection, recording its end on a failure that is
// one.
func (c *Recorded) Write(b []byte) (int, error) {
	n, err := c.TCPConn.Write(b)
	if err != nil {
		c.failed(err)
	}
	return n, err
}

// Close records the end, if no Read or Write saw one, from the socket's
// pending error and TCP_INFO, then closes the connection.
func (c *Recorded) Close() error {
	c.mu.Lock()
	ended := c.ended
	c.mu.Unlock()
	if !ended {
		cause, err := closeCause(c.TCPConn)
		c.set(End{Cause: cause, Err: err, AtClose: true})
	}
	return c.TCPConn.Close()
}

// failed records err's cause, unless err says nothing about the
// connection's end (a deadline, a cancellation, a read after Close).
func (c *Recorded) failed(err error) {
	cause := Diagnose(c.TCPConn, err)
	switch cause {
	case CauseDeadline, CauseCanceled, CauseLocalClose:
		return
	}
	c.set(End{Cause: cause, Err: err})
}

func (c *Recorded) set(e End) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	e.Local, e.Remote, e.Time = c.TCPConn.LocalAddr(), c.TCPConn.RemoteAddr(), time.Now()
	c.ended, c.end = true, e
	c.mu.Unlock()
	if c.r != nil {
		c.r.record(e)
	}
}
