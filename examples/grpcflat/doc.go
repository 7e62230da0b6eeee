// Package grpcflat wires grpc-go with flatline so that gRPC's keepalive and
// flatline's socket settings agree, and makes their clash visible.
//
// # The clash
//
// grpc-go sets TCP_USER_TIMEOUT itself, to the keepalive Timeout, on every
// connection whose keepalive Time is set: on a client given keepalive
// parameters, and on every server connection by default (server Time 2 h,
// Timeout 20 s). That silently replaces flatline's user timeout. Measured
// here with T = 5 s: client parameters {Time: 30 s, Timeout: 20 s} read back
// 20000 ms and a partition took 19.6–20.8 s to notice; {Time: 10 s,
// Timeout: 3 s} reads back 3000 ms, below keepalive idle + interval, so one
// lost keepalive probe kills a healthy connection.
//
// # The derivation
//
// Derive makes gRPC set the value flatline would have set: the keepalive
// Timeout is the flatline plan's user timeout, and the plan is derived with
// that user timeout, so keepalive idle, interval and count agree with it.
// gRPC's keepalive pings are answered by the peer's gRPC process, so they
// also notice a frozen peer, which TCP keepalive cannot:
//
//	Time    = max(10 s, T/3)     (grpc-go raises a client Time below 10 s to 10 s)
//	Timeout = U = T − Time − 400 ms, TCP_USER_TIMEOUT, and flatline's plan derived from it
//	a frozen peer is noticed within Time + Timeout < T
//
// For T below 13.4 s that leaves no room: Derive then turns gRPC's keepalive
// off (client Time and server Time infinite, so gRPC leaves the socket
// alone), FrozenPeer is zero, and a frozen peer needs package liveness.
//
// Dialer.Verify and VerifyConn read the options back from the kernel and
// report a connection whose TCP_USER_TIMEOUT is not the plan's;
// CheckParams says before dialing what given keepalive parameters will do.
package grpcflat
