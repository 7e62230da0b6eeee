// Package httpflat adds flatline to net/http so that a request, not only a
// connection, notices a dead server within the Config's Timeout T, and a
// failed request's error carries the cause.
//
// New clones the caller's *http.Transport (http.DefaultTransport's when
// nil), keeping its pool sizes, timeouts, proxy, TLS and protocol
// settings, and adds three things:
//
//   - HTTP/1.1 and HTTP/2 connections get flatline's socket settings: with
//     the default transport they dial through flatline.Dialer; a
//     DialContext of the caller's own still dials, and flatline configures
//     the *net.TCPConn it returns. DialTLSContext, DialTLS and Dial are
//     refused (set TLSClientConfig instead): net/http needs the *tls.Conn
//     they return unwrapped, and flatline would not see the socket.
//   - HTTP/2's own health check, derived from T when the caller set none:
//     a ping after T/2 without a frame, the connection closed when no
//     answer comes within 2T/5, so within 0.9 T. The ping is answered by
//     the server's HTTP/2 code, so this also notices a frozen server,
//     which TCP cannot.
//   - A retry that does not restart the clock. net/http retries an
//     idempotent request on a new connection when a reused one fails, and
//     the retry's dial into the same dead path takes up to another T
//     (measured here with T = 3 s: 5.65 s for the request). The dialer is a
//     redial.Dialer, which gives a dial to an address whose last connection
//     died of a dead peer only what is left of T since it was last heard;
//     none left fails the dial at once with a *redial.PeerSilentError.
//
// RoundTrip's errors, and errors reading a response body, carry the cause
// recorded from the socket the request used (a *flatline.CauseError, which
// flatline.Diagnose and errors.As see; errors.Is still finds net/http's).
package httpflat
