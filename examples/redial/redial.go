// Package redial is a dialer for clients that retry: after a connection
// died of a dead peer, a new dial to the same address gets only what is
// left of the Timeout since that peer was last heard from, so a retry does
// not restart the clock. net/http and go-redis retry a request on a new
// connection when a reused one fails; with a plain dialer the retry's dial
// into the same dead path takes up to another Timeout.
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

// ErrPeerSilent fails a dial to an address whose last connection died of a
// dead peer with no time left within the Timeout since the peer was last
// heard.
var ErrPeerSilent = errors.New("redial: peer silent for the whole timeout")

// New returns a Dialer with flatline's settings for cfg.
func New(cfg flatline.Config) (*Dialer, error) {
	p, err := cfg.Plan()
	if err != nil {
		return nil, err
	}
	return &Dialer{Dialer: flatline.Dialer{Config: cfg}, timeout: p.Timeout, dead: map[string]death{}}, nil
}

// Dialer is flatline.Dialer that remembers, per address, when a connection
// that died of a dead peer last heard from it, and bounds the next dials
// there by what is left of the timeout since.
type Dialer struct {
	flatline.Dialer
	timeout time.Duration

	mu   sync.Mutex
	dead map[string]death
}

type death struct {
	at, heard time.Time
	cause     flatline.Cause
}

// DialContext dials as flatline.Dialer, within what is left of the timeout
// if the last connection to address died of a dead peer less than a timeout
// ago.
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
			return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%w: %s's last connection died of %v, %v after it was last heard (timeout %v)",
				ErrPeerSilent, address, dd.cause, dd.at.Sub(dd.heard).Round(time.Millisecond), d.timeout)}
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	c, err := d.Dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, d: d, address: address}, nil
}

// conn notes its own death of a dead peer.
type conn struct {
	net.Conn
	d       *Dialer
	address string
	once    sync.Once
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		c.noteDeath(err)
	}
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil {
		c.noteDeath(err)
	}
	return n, err
}

func (c *conn) noteDeath(err error) {
	cause := flatline.Diagnose(c.Conn, err)
	if !cause.DeadPeer() {
		return
	}
	c.once.Do(func() {
		now := time.Now()
		heard := lastHeard(c.Conn, now, c.d.timeout)
		c.d.mu.Lock()
		c.d.dead[c.address] = death{at: now, heard: heard, cause: cause}
		c.d.mu.Unlock()
	})
}
