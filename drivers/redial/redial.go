// Package redial is the dialer under flatline's drivers (grpcflat,
// httpflat, pgxflat, redisflat): it dials with flatline's settings, or
// composes them onto the user's own dial function, records every
// connection's end with a flatline.Recorder, attaches that end's cause to
// errors (Explain), and bounds retries: after a connection died of a dead
// peer, a new dial to the same address gets only what is left of the
// Timeout since that peer was last heard from, so a retry does not restart
// the clock. net/http and go-redis retry a request on a new connection
// when a reused one fails; with a plain dialer the retry's dial into the
// same dead path takes up to another Timeout.
package redial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/flatline-dev/flatline"
)

// ErrPeerSilent matches a *PeerSilentError.
var ErrPeerSilent = errors.New("redial: peer silent for the whole timeout")

// PeerSilentError fails a dial to an address whose last connection died
// of a dead peer with no time left within the Timeout since the peer was
// last heard. DialContext returns it inside a *net.OpError and a
// *flatline.CauseError carrying the dead connection's cause, so
// flatline.Diagnose names that cause and errors.As finds this type.
type PeerSilentError struct {
	Address string
	// Cause is how the last connection to Address died.
	Cause flatline.Cause
	// Silent is how long the peer had been silent when it died.
	Silent  time.Duration
	Timeout time.Duration
}

func (e *PeerSilentError) Error() string {
	return fmt.Sprintf("redial: peer silent for the whole timeout: %s's last connection died of %v, %v after it was last heard (timeout %v)",
		e.Address, e.Cause, e.Silent.Round(time.Millisecond), e.Timeout)
}

// Is makes errors.Is(err, ErrPeerSilent) true.
func (e *PeerSilentError) Is(target error) bool { return target == ErrPeerSilent }

// DialFunc is the signature of net.Dialer.DialContext, which pgx, go-redis
// and net/http take.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Options are what a driver adds to flatline's Config. Their zero value
// works.
type Options struct {
	// Recorder, if set, records every connection's end (its OnEnd is
	// called, Lookup answers). Nil: the Dialer records with its own.
	Recorder *flatline.Recorder
	// Dial is the user's own dial function, if any. Nil: flatline.Dialer
	// dials (options set before the SYN leaves). Set: it dials within the
	// Timeout, flatline.Configure then sets the options on what it
	// returned, which must be a *net.TCPConn (anything else is refused
	// with a *DialError: flatline cannot record the end of what it cannot
	// see).
	Dial DialFunc
	// Net is the net.Dialer flatline.Dialer embeds (LocalAddr, Resolver,
	// Control) when Dial is nil; its keepalive fields are ignored.
	Net net.Dialer
}

// DialError is a connection the user's dial function returned that
// flatline cannot configure or record; the connection was closed.
type DialError struct {
	Type string // the connection's Go type
	Err  error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("redial: your dial function returned a %s: %v", e.Type, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// New returns a Dialer with flatline's settings for cfg.
func New(cfg flatline.Config, o Options) (*Dialer, error) {
	p, err := cfg.Plan()
	if err != nil {
		return nil, err
	}
	rec := o.Recorder
	if rec == nil {
		rec = &flatline.Recorder{Keep: 1} // each Conn keeps its own end
	}
	return &Dialer{
		fd:      flatline.Dialer{Dialer: o.Net, Config: cfg},
		cfg:     cfg,
		dial:    o.Dial,
		rec:     rec,
		timeout: p.Timeout,
		dead:    map[string]death{},
	}, nil
}

// Dialer dials with flatline's settings and remembers, per address, when a
// connection that died of a dead peer last heard from it, bounding the
// next dials there by what is left of the timeout since.
type Dialer struct {
	fd      flatline.Dialer
	cfg     flatline.Config
	dial    DialFunc
	rec     *flatline.Recorder
	timeout time.Duration

	mu   sync.Mutex
	dead map[string]death
	last flatline.End // the latest dead-peer end of any of its connections
}

type death struct {
	at, heard time.Time
	cause     flatline.Cause
}

// Config returns the flatline configuration the Dialer dials with.
func (d *Dialer) Config() flatline.Config { return d.cfg }

// Recorder returns the Recorder that records the Dialer's connections.
func (d *Dialer) Recorder() *flatline.Recorder { return d.rec }

// DialContext dials as flatline.Dialer (or the user's dial function, then
// flatline.Configure), within what is left of the timeout if the last
// connection to address died of a dead peer less than a timeout ago. The
// connection is a *Conn.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	dd, ok := d.dead[address]
	if ok && time.Since(dd.at) >= d.timeout {
		delete(d.dead, address)
		ok = false
	}
	d.mu.Unlock()
	if ok {
		deadline := dd.heard.Add(d.timeout)
		if time.Until(deadline) <= 0 {
			silent := &PeerSilentError{Address: address, Cause: dd.cause, Silent: dd.at.Sub(dd.heard), Timeout: d.timeout}
			return nil, &net.OpError{Op: "dial", Net: network, Err: &flatline.CauseError{Cause: dd.cause, Remote: address, Err: silent}}
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	c, err := d.dialTCP(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &Conn{Recorded: d.rec.Wrap(c).(*flatline.Recorded), d: d, address: address}, nil
}

// dialTCP dials a configured *net.TCPConn.
func (d *Dialer) dialTCP(ctx context.Context, network, address string) (*net.TCPConn, error) {
	if d.dial == nil {
		c, err := d.fd.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return c.(*net.TCPConn), nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	c, err := d.dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: &DialError{Type: fmt.Sprintf("%T", c),
			Err: errors.New("flatline configures and records only a *net.TCPConn: return the TCP connection, and leave TLS to the driver's TLS option")}}
	}
	if err := flatline.Configure(tc, d.cfg); err != nil {
		c.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: &DialError{Type: fmt.Sprintf("%T", c), Err: err}}
	}
	return tc, nil
}

// Conn is a connection from a Dialer: a *flatline.Recorded (so the
// socket, SyscallConn and the recorded End are reachable) that notes its
// own death of a dead peer for the Dialer's next dials.
type Conn struct {
	*flatline.Recorded
	d       *Dialer
	address string
	once    sync.Once

	mu       sync.Mutex
	closeEnd *flatline.End
}

// NetConn returns the recorded TCP connection, for flatline.Recorder.Of
// and flatline.Configure.
func (c *Conn) NetConn() net.Conn { return c.Recorded }

func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.Recorded.Read(b)
	if err != nil {
		c.noteDeath()
	}
	return n, err
}

func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.Recorded.Write(b)
	if err != nil {
		c.noteDeath()
	}
	return n, err
}

// Close closes the connection. A client library that closes a connection
// because its peer stopped answering (HTTP/2's or gRPC's ping went
// unanswered) does so before the kernel gives up: if the socket then holds
// sent data that is unacknowledged and was retransmitted, the end is
// unacked-data, here (End, Explain, the Dialer's next dials), though the
// Recorder, which saw only a local close, says local-close.
func (c *Conn) Close() error {
	if _, ended := c.Recorded.End(); !ended && retransmitting(c.Recorded.TCPConn) {
		e := flatline.End{Local: c.LocalAddr(), Remote: c.RemoteAddr(), Cause: flatline.CauseUnacked, AtClose: true, Time: time.Now()}
		c.mu.Lock()
		c.closeEnd = &e
		c.mu.Unlock()
		c.noteEnd(e)
	}
	return c.Recorded.Close()
}

// End returns how the connection ended, and false while it has not.
func (c *Conn) End() (flatline.End, bool) {
	c.mu.Lock()
	e := c.closeEnd
	c.mu.Unlock()
	if e != nil {
		return *e, true
	}
	return c.Recorded.End()
}

func (c *Conn) noteDeath() {
	if e, ok := c.Recorded.End(); ok {
		c.noteEnd(e)
	}
}

func (c *Conn) noteEnd(e flatline.End) {
	if !e.Cause.DeadPeer() {
		return
	}
	c.once.Do(func() {
		now := time.Now()
		heard := lastHeard(c.Recorded.TCPConn, now, c.d.timeout)
		c.d.mu.Lock()
		c.d.dead[c.address] = death{at: now, heard: heard, cause: e.Cause}
		if e.Time.After(c.d.last.Time) {
			c.d.last = e
		}
		c.d.mu.Unlock()
	})
}

// endOf finds the *Conn or *flatline.Recorded under c and returns its end.
func endOf(c net.Conn) (flatline.End, bool) {
	for range 8 {
		switch v := c.(type) {
		case *Conn:
			if e, ok := v.End(); ok {
				return e, true
			}
			// Not ended yet, but the driver may be closing it for an
			// unanswered ping while its error already travels.
			if retransmitting(v.Recorded.TCPConn) {
				return flatline.End{Local: v.LocalAddr(), Remote: v.RemoteAddr(), Cause: flatline.CauseUnacked, Time: time.Now()}, true
			}
			return flatline.End{}, false
		case *flatline.Recorded:
			return v.End()
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return flatline.End{}, false
		}
	}
	return flatline.End{}, false
}

// Explain returns err with the cause of c's end attached, as a
// *flatline.CauseError wrapping err, when c (a *Conn, a
// *flatline.Recorded, or a wrapper with a NetConn method around one, such
// as a *tls.Conn) has a recorded end, or is a *Conn still open with sent
// data unacknowledged and retransmitted (unacked-data: the driver is
// closing it because its peer stopped answering); otherwise err itself.
// Only a dead peer or the peer's close is attached: a connection this
// side closed (a driver's ping timeout against a frozen peer) adds
// nothing. An err that
// already carries a cause, or nil, is returned as it is.
func Explain(c net.Conn, err error) error {
	if err == nil || c == nil {
		return err
	}
	var ce *flatline.CauseError
	if errors.As(err, &ce) {
		return err
	}
	e, ok := endOf(c)
	if !ok || !e.Cause.DeadPeer() && e.Cause != flatline.CausePeerClosed {
		return err // nothing to add: still open, or closed by this side
	}
	return &flatline.CauseError{Cause: e.Cause, Local: addrString(e.Local), Remote: addrString(e.Remote), Err: err}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// ExplainSince returns err with the cause of the latest dead-peer end
// among the Dialer's connections attached, as a *flatline.CauseError
// wrapping err, when that end came at or after since (for a client
// library that hides which connection failed: the start of the failed
// command); otherwise err itself. An err that already carries a cause, or
// nil, is returned as it is.
func (d *Dialer) ExplainSince(since time.Time, err error) error {
	if err == nil {
		return nil
	}
	var ce *flatline.CauseError
	if errors.As(err, &ce) {
		return err
	}
	d.mu.Lock()
	e := d.last
	d.mu.Unlock()
	if e.Time.IsZero() || e.Time.Before(since) {
		return err
	}
	return &flatline.CauseError{Cause: e.Cause, Local: addrString(e.Local), Remote: addrString(e.Remote), Err: err}
}

// lastHeard is when c last received anything from its peer
// (flatline.LastHeard); now − timeout where the platform cannot tell: a
// connection that died of a dead peer is then taken to have been silent
// for the whole timeout.
func lastHeard(c net.Conn, now time.Time, timeout time.Duration) time.Time {
	heard, err := flatline.LastHeard(c)
	if err != nil {
		return now.Add(-timeout)
	}
	return heard
}
