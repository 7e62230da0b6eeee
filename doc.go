// Package flatline makes TCP connections die honestly: one number, the
// longest a dead peer may go unnoticed (Config.Timeout), becomes keepalive,
// TCP_USER_TIMEOUT and connect settings that agree with each other and with
// the kernel, on sockets from a Dialer, a ListenConfig or an existing
// connection (Configure).
//
// # Why
//
// Keepalive alone is a lie: the kernel probes only sockets with nothing in
// flight. A socket with unacknowledged data retransmits instead, for
// tcp_retries2 (≈924.6 s by default), and only TCP_USER_TIMEOUT bounds that.
// And a user timeout that disagrees with the keepalive settings silently
// overrides them: the kernel ends an idle connection at the first keepalive
// firing at or past the user timeout with a probe out, whatever TCP_KEEPCNT
// says (a user timeout under Idle + Interval kills on the first lost
// probe). The firings come late by up to a timer-wheel bucket each, and the
// lateness adds up from firing to firing, so a user timeout just past
// Idle + (Count−1)·Interval is crossed one firing early too; the kernel
// model (internal/kernel) simulates the sequence and Validate rejects
// those.
//
// # The arithmetic
//
// From a Timeout T (whole seconds s = ⌊T⌋), Config.Plan chooses, first:
//
//	C₀ = 3 when T ≥ 10 s, else 2
//	V₀ = max(1 s, ⌊s / (C₀+3)⌋)
//	I = ⌈(s − C₀·V₀) / 2⌉, raised until gcd(I, V₀) = 1  TCP_KEEPIDLE
//
// then spends the probe budget C₀·V₀ on the most probe exchanges
// (lossTolerantChain, docs/false-kills.md): V = 1 s (longer only past 20
// probes), C = C₀·V₀ / V; where that still predicts more than
// DesignFalseKills(T) false kills per idle connection-hour at 5 % random
// loss each way, it gives the probes the spread's seconds, then the
// idle's, one at a time, keeping at least a second of spread and three
// quarters of the idle. Then:
//
//	U = I + C·V − 400 ms                           TCP_USER_TIMEOUT
//	Spread = min(T − (I + C·V), I)
//	RTOMax: the longest whole-second cap meeting the same design point for
//	        a connection writing every second, or none  TCP_RTO_MAX_MS
//	ConnectTimeout = T
//
// so that, with the kernel's rules (see Settings.Bounds):
//
//	idle, receiving: dead at the C-th firing at the latest, I + C·V
//	                 (+ Spread for a connection faulted before its
//	                 keepalive was re-armed); the timers' lateness may end
//	                 the chain a probe or two earlier (Bound.LostProbes)
//	sending:         U from the first retransmission by timeout, which
//	                 comes a tail-loss probe and an RTO (≈ 400 ms on a short
//	                 path: FirstRetransmission) after the first
//	                 unacknowledged send: U + 400 ms
//	closed window:   U from the first zero-window probe (Linux 5.11+)
//	connecting:      U (the user timeout bounds SYN-SENT on Linux), and the
//	                 dial deadline
//
// are all at most T. For T = 30 s: I = 8 s, V = 1 s, C = 15, U = 22.6 s,
// Spread = 7 s, RTOMax = 5 s; for T = 10 s: I = 3 s, V = 1 s, C = 6,
// U = 8.6 s, Spread = 1 s, RTOMax = 2 s; for T = 3 s: I = 1 s, V = 1 s, C = 2,
// U = 2.6 s. Each bound
// comes with the slack the kernel's timer wheel adds (each timer is rounded
// up to the granularity of its horizon: 32 ms below 2 s, 256 ms below 16 s
// at HZ=250), computed by Plan for the coarsest common HZ (an unknown HZ)
// and by PlanFor for the HZ of the host given (read once with ReadHost),
// never more than max(0.5 s, 10 % of T). Plan and PlanFor read nothing
// from the system: the host comes in as an argument. Overrides (Idle, Interval, Count, UserTimeout,
// ConnectTimeout, Spread) are checked by the same rules; Validate says what
// to change when they cannot keep the promise.
//
// # Spread
//
// Connections made together arm keepalive together and, while healthy, keep
// that phase: their probes leave in one burst every period. Each new
// connection therefore re-arms its keepalive (SO_KEEPALIVE off and on, so
// the timer starts a full idle period from then) after a random delay in
// [0, Spread). Keepalive stays on throughout.
//
// # Platforms
//
// Linux has everything. darwin sets TCP_KEEPALIVE, TCP_KEEPINTVL,
// TCP_KEEPCNT and TCP_RXT_CONNDROPTIME; windows TCP_KEEPIDLE,
// TCP_KEEPINTVL, TCP_KEEPCNT and TCP_MAXRT; there the user timeout bounds
// retransmission only, and Plan.Notes says what that costs. Elsewhere the
// socket functions return an error matching ErrNotSupported.
//
// # Why a connection died
//
// Go's net.Error.Timeout is true for the kernel's ETIMEDOUT (a dead peer)
// and for an expired deadline (a slow one, or your own timer). Diagnose
// tells them apart, and on Linux tells keepalive silence from
// unacknowledged data and a closed window by what TCP_INFO kept. The
// error number's part is ErrnoCause, which flatline trace shares: a
// socket this host destroyed (ECONNABORTED, e.g. ss -K) is CauseAborted,
// not a dead peer. LastHeard says since when the peer has been silent.
package flatline
