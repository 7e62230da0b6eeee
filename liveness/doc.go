// Package liveness is the last piece of a dead-peer promise: an application
// heartbeat for links you own, derived from the same Timeout as flatline's
// socket settings.
//
// A peer whose process is stopped, deadlocked or paused keeps its kernel
// acknowledging data and answering keepalive probes, so no socket option
// notices it. A Monitor pings the peer over a connection of its own and
// answers the peer's pings from a goroutine of its own, off the program's
// work path, and reports a link whose peer stopped answering within
// Config.Timeout.
//
// # Three deadlines, three errors
//
// A link fails with a *PeerError that matches one of:
//
//   - ErrUnreachable: the peer's kernel is gone. The connection failed (the
//     kernel's own deadline: give the connection flatline's settings), or
//     the pings stayed unacknowledged by the peer's kernel for the whole
//     deadline (TCP_INFO on Linux).
//   - ErrUnresponsive: the peer's kernel acknowledged the pings, but the
//     peer process did not answer: stopped, deadlocked, or paused longer
//     than the pause budget.
//   - ErrNoProgress (only with Config.Progress): the peer answers pings,
//     but its work loop has not called Beat for that long, as Kafka splits
//     its session timeout from the poll interval.
//
// # The numbers
//
// From a Timeout T (Config.Plan states them, overrides are checked):
//
//	Deadline       D = T − T/20     silence that fails the link
//	PauseBudget    B = T/2          a peer pause shorter than this is never reported
//	Interval       P = T/5 ± 25 %   each ping interval, jittered; the first at random in [0, P)
//	RTTAllowance     = D − B − 1.25·P = T/5
//
// A peer that stops answering is reported at most D ≤ T after its last
// answer. A peer paused for less than B answers the ping waiting for it when
// it resumes, so no two answers are further apart than B + 1.25·P + the
// round trip < D. For T = 5 s: reported within 4.75 s, a 2.5 s pause
// survived, a ping every 0.75–1.25 s.
//
// # A local pause is not the peer's fault
//
// A process that was itself stopped (SIGSTOP, a VM paused) wakes with every
// deadline passed and unread answers in its socket. The Monitor compares
// when its own timer was due with when it ran (the monotonic clock): a wake
// later than Plan.LocalPause (T/20) gives the peer Deadline − PauseBudget
// (a ping interval and the round-trip allowance) from now to be heard from,
// instead of accusing it.
//
// # The connection
//
// New takes a net.Conn that carries only the heartbeat: its own TCP
// connection (made with flatline.Dialer or flatline.ListenConfig, so the
// kernel also ends it within T), or a stream of a multiplexer you already
// use. Both ends run a Monitor. docs/liveness.md says why the heartbeat has
// a connection of its own rather than sharing the data's.
//
// Each Monitor runs three goroutines and one timer; Close stops them all and
// returns when they are gone.
package liveness
