package httpflat

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/redial"
)

// ErrDialTLS is returned by New for a transport with DialTLSContext,
// DialTLS or Dial set.
var ErrDialTLS = errors.New("httpflat: the transport sets DialTLSContext, DialTLS or Dial: flatline cannot see the socket under them; set DialContext and TLSClientConfig instead")

// HTTP2Config returns HTTP/2's ping health check derived from cfg: a ping
// after T/2 without a frame, the connection closed when it is not answered
// within 2T/5.
func HTTP2Config(cfg flatline.Config) (*http.HTTP2Config, error) {
	p, err := cfg.Plan()
	if err != nil {
		return nil, err
	}
	return &http.HTTP2Config{SendPingTimeout: p.Timeout / 2, PingTimeout: p.Timeout * 2 / 5}, nil
}

// Transport is an http.RoundTripper over a clone of the caller's
// transport with flatline added (see the package documentation).
type Transport struct {
	// Base is the clone that carries the requests; change it before the
	// first request, not after.
	Base *http.Transport
	d    *redial.Dialer
}

// New returns a Transport over a clone of base (http.DefaultTransport's
// settings when base is nil) with flatline's settings for cfg; rec, if not
// nil, records every connection's end. base is not changed.
func New(base *http.Transport, cfg flatline.Config, rec *flatline.Recorder) (*Transport, error) {
	var tr *http.Transport
	var own redial.DialFunc
	var netDialer net.Dialer
	if base == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
		netDialer.Timeout = 30 * time.Second // http.DefaultTransport's
	} else {
		if base.DialTLSContext != nil || base.DialTLS != nil || base.Dial != nil { //nolint:staticcheck // refusing the deprecated fields is the point
			return nil, ErrDialTLS
		}
		tr = base.Clone()
		own = tr.DialContext
	}
	d, err := redial.New(cfg, redial.Options{Recorder: rec, Dial: own, Net: netDialer})
	if err != nil {
		return nil, err
	}
	tr.DialContext = d.DialContext
	h2, err := HTTP2Config(cfg)
	if err != nil {
		return nil, err
	}
	if tr.HTTP2 == nil {
		tr.HTTP2 = h2
	} else {
		c := *tr.HTTP2
		if c.SendPingTimeout == 0 {
			c.SendPingTimeout = h2.SendPingTimeout
		}
		if c.PingTimeout == 0 {
			c.PingTimeout = h2.PingTimeout
		}
		tr.HTTP2 = &c
	}
	return &Transport{Base: tr, d: d}, nil
}

// Dialer returns the dialer the transport's connections come from.
func (t *Transport) Dialer() *redial.Dialer { return t.d }

// CloseIdleConnections closes the idle connections of Base.
func (t *Transport) CloseIdleConnections() { t.Base.CloseIdleConnections() }

// RoundTrip sends req through Base; a failure carries the cause of the
// end of the connection the request last used.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	began := time.Now()
	used := &usedConn{}
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { used.set(i.Conn) }}
	req2 := req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := t.Base.RoundTrip(req2)
	if err != nil {
		return nil, t.explain(used.get(), began, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.Body != nil {
		resp.Body = &body{ReadCloser: resp.Body, t: t, used: used, began: began}
	}
	resp.Request = req
	return resp, nil
}

func (t *Transport) explain(c net.Conn, began time.Time, err error) error {
	if c != nil {
		if e := redial.Explain(c, err); e != err {
			return e
		}
	}
	return t.d.ExplainSince(began, err)
}

type usedConn struct {
	mu sync.Mutex
	c  net.Conn
}

func (u *usedConn) set(c net.Conn) { u.mu.Lock(); u.c = c; u.mu.Unlock() }
func (u *usedConn) get() net.Conn  { u.mu.Lock(); defer u.mu.Unlock(); return u.c }

// body attaches the cause to errors reading a response body.
type body struct {
	io.ReadCloser
	t     *Transport
	used  *usedConn
	began time.Time
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = b.t.explain(b.used.get(), b.began, err)
	}
	return n, err
}
