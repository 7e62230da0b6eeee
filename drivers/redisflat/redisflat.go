// Package redisflat adds flatline to go-redis (github.com/redis/go-redis/v9):
// connections get flatline's settings and dial through a redial.Dialer (a
// retry after a dead-peer death gets only what is left of the Timeout), so
// a blocked command (BLPOP with no timeout) or a command on a pooled
// connection into a cut path fails within the Config's Timeout, with the
// cause attached to go-redis's error (Hook).
//
// Options keeps everything in the caller's options. go-redis applies
// TLSConfig only in its own dialer, which flatline replaces: Options does
// the TLS handshake itself with the caller's TLSConfig (a server without
// TLS is refused with a *TLSError, never used in plaintext). A Dialer of
// the caller's own is composed: it still dials, flatline configures and
// records the *net.TCPConn it returns (anything else is refused with a
// *redial.DialError), and with TLSConfig set the handshake is done on top
// of it too, where go-redis alone would silently skip TLS.
//
// go-redis retries a command on a new connection after a network error
// (MaxRetries, 3 by default), dial errors included, and its pool retries a
// failed dial (DialerRetries, 5 attempts 100 ms apart by default); with a
// plain dialer a retry into the same dead path restarts the clock. Options
// keeps the command retries (the redial.Dialer bounds them) and, unless
// the caller set DialerRetries, makes the pool dial once: a second dial
// into a peer that redial already knows is silent only adds its backoff
// (measured: 0.5 s). ReadTimeout and WriteTimeout (3 s by default) are
// per-command deadlines: set them to how long a command may take, not as a
// dead-peer detector; blocking commands run without them.
package redisflat

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/redial"
	"github.com/redis/go-redis/v9"
)

// Options returns a copy of o with flatline's settings for cfg added (see
// the package documentation), and the Dialer now in its Dialer field; rec,
// if not nil, records every connection's end. o is not changed.
func Options(o *redis.Options, cfg flatline.Config, rec *flatline.Recorder) (*redis.Options, *redial.Dialer, error) {
	if o == nil {
		return nil, nil, errors.New("redisflat: nil options: pass the *redis.Options you would give redis.NewClient")
	}
	out := *o
	d, err := redial.New(cfg, redial.Options{Recorder: rec, Dial: o.Dialer})
	if err != nil {
		return nil, nil, err
	}
	p, _ := cfg.Plan()
	if out.DialTimeout == 0 || out.DialTimeout > p.Timeout {
		out.DialTimeout = p.Timeout
	}
	if out.DialerRetries == 0 {
		out.DialerRetries = 1
	}
	out.Dialer = d.DialContext
	if o.TLSConfig != nil {
		out.Dialer = tlsDialer(d, o.TLSConfig)
	}
	return &out, d, nil
}

// tlsDialer dials with d and does the TLS handshake with conf, within the
// context, as go-redis's own dialer would (ServerName from the address
// when conf has none).
func tlsDialer(d *redial.Dialer, conf *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := conf
		if tc.ServerName == "" {
			tc = conf.Clone()
			host, _, _ := net.SplitHostPort(addr)
			tc.ServerName = host
		}
		conn := tls.Client(c, tc)
		if err := conn.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Err: &TLSError{Addr: addr, Err: err}}
		}
		return conn, nil
	}
}

// TLSError is a failed TLS handshake: with TLSConfig set, a server that
// does not speak TLS is refused, never used in plaintext.
type TLSError struct {
	Addr string
	Err  error
}

func (e *TLSError) Error() string {
	return "redisflat: TLS handshake with " + e.Addr + " failed (TLSConfig is set: no plaintext fallback): " + e.Err.Error()
}

func (e *TLSError) Unwrap() error { return e.Err }

// Hook returns a go-redis hook (client.AddHook) that attaches to a failed
// command's error the cause of the connection's end that d recorded while
// the command ran, as a *flatline.CauseError wrapping go-redis's error.
func Hook(d *redial.Dialer) redis.Hook { return hook{d} }

type hook struct{ d *redial.Dialer }

func (h hook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		began := time.Now()
		err := next(ctx, cmd)
		if err != nil && err != redis.Nil {
			err = h.d.ExplainSince(began, err)
			cmd.SetErr(err)
		}
		return err
	}
}

func (h hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		began := time.Now()
		err := next(ctx, cmds)
		if err != nil && err != redis.Nil {
			err = h.d.ExplainSince(began, err)
		}
		return err
	}
}
