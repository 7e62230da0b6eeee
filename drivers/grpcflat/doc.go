// Package grpcflat adds flatline to grpc-go: connections get flatline's
// socket settings, gRPC's keepalive is made to agree with them, Verify
// reads back what gRPC did to each socket, and failed RPCs carry the
// cause of their connection's end.
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
// # What grpcflat does
//
// Dead peers are noticed by flatline's TCP settings alone: TCP keepalive
// probes are answered by the peer's kernel and are invisible to gRPC, so
// no server's ping policy can object to them. grpcflat sends no gRPC pings
// of its own: a default grpc.NewServer() permits a client ping only every
// 5 minutes, and only with a stream open (its enforcement policy MinTime
// 5 min, PermitWithoutStream false); faster pings earn a too_many_pings
// GOAWAY, after which grpc-go doubles its ping interval. A client with
// no keepalive parameters keeps gRPC's default (pings off), and gRPC then
// leaves the socket alone.
//
// When the caller has keepalive parameters of their own (Options.Keepalive),
// their Time and PermitWithoutStream are kept (the pings are theirs: a
// server must permit them), and only their Timeout is changed to the
// plan's user timeout, so that gRPC gives up on an unanswered ping when
// flatline gives up on unacknowledged data; Params.Changed says so, with
// the values. (grpc-go also sets TCP_USER_TIMEOUT to that Timeout, but only
// on a *net.TCPConn: grpcflat's connections are *redial.Conn, so on the
// client gRPC cannot replace flatline's value.) The pings then
// also notice a frozen peer (whose kernel answers TCP), within
// Params.FrozenPeer. ServerOptions does the same for a server's
// parameters, whose default Timeout (20 s) would otherwise become every
// accepted connection's user timeout.
//
// # Seeing every connection
//
// DialOptions' dialer is a redial.Dialer: a dial function of the caller's
// own (Options.Dial) is composed, not replaced. Dialer.Verify reads the
// options back from the kernel for every open connection and fails, never
// answers all-clear, when it has seen no connection at all (a later
// grpc.WithContextDialer replaced grpcflat's) or cannot read one. Failed
// RPCs, unary or streaming, come back from DialOptions' interceptors as a
// *flatline.CauseError wrapping gRPC's status error (status.Code and
// status.FromError still work) with the cause recorded from that RPC's
// socket, found by the RPC's peer addresses.
package grpcflat
