// Package httpflat wires net/http with flatline so that a request, not only
// a connection, notices a dead server within the Config's Timeout T.
//
// Three things are needed:
//
//   - HTTP/1.1 and HTTP/2 connections dial through flatline.Dialer: the
//     kernel ends a connection to a dead server within T.
//   - HTTP/2's own health check, derived from T: a ping after T/2 without
//     a frame, the connection closed when no answer comes within 2T/5, so
//     within 0.9 T. The ping is answered by the server's HTTP/2 code, so
//     this also notices a frozen server, which TCP cannot.
//   - A retry that does not restart the clock. net/http retries an
//     idempotent request on a new connection when a reused one fails, and
//     the retry's dial into the same dead path takes up to another T
//     (measured here with T = 5 s: 7.65 s for the request). Transport dials
//     with a redial.Dialer, which remembers when a connection that died of
//     a dead peer last heard from its server, and gives a dial to that
//     address only what is left of T since then; none left fails the dial
//     at once with redial.ErrPeerSilent.
package httpflat
