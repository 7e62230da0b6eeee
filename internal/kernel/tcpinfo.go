package kernel

import "time"

// State is what a connection is doing when its peer goes silent, as far as
// the dead-peer rules go (the root package's flatline.State has the same
// names).
type State string

// The traffic states.
const (
	StateIdle         State = "idle"          // nothing in flight, nothing arriving
	StateSending      State = "sending"       // data sent and not yet acknowledged
	StateReceiving    State = "receiving"     // only the peer sends; we only acknowledge
	StateClosedWindow State = "closed-window" // our data waits on a peer window that stays at zero
	StateConnecting   State = "connecting"    // SYN sent, no answer
)

// Timer is the kernel timer pending on a socket (inet_diag's idiag_timer).
type Timer uint8

// The timers inet_diag reports; TimerUnknown where the source (getsockopt
// TCP_INFO) does not tell.
const (
	TimerOff       Timer = 0 // no timer pending
	TimerOn        Timer = 1 // retransmission (also loss probe, reordering timeout)
	TimerKeepalive Timer = 2 // keepalive (sk_timer)
	TimerTimeWait  Timer = 3 // TIME-WAIT expiry
	TimerPersist   Timer = 4 // zero-window probe
	TimerUnknown   Timer = 255
)

// The kernel's TCP states (include/net/tcp_states.h), as tcp_info's
// tcpi_state, inet_diag's idiag_state and the inet_sock_set_state
// tracepoint give them.
const (
	TCPEstablished = 1
	TCPSynSent     = 2
	TCPSynRecv     = 3
	TCPFinWait1    = 4
	TCPFinWait2    = 5
	TCPTimeWait    = 6
	TCPClose       = 7
	TCPCloseWait   = 8
	TCPLastAck     = 9
	TCPListen      = 10
	TCPClosing     = 11
	TCPNewSynRecv  = 12
)

// Conn is what tcp_info (and inet_diag's timer) say about a connection.
type Conn struct {
	State            uint8 // tcpi_state
	Timer            Timer // TimerUnknown when not reported
	Unacked, Notsent uint32
	SndWnd           uint32
	HasSndWnd        bool // tcpi_snd_wnd is reported (Linux 5.4+)
	Retransmits      uint8
	Probes           uint8
	// LastDataRecv and LastAckRecv are tcpi_last_data_recv and
	// tcpi_last_ack_recv: time since the last segment of each kind.
	LastDataRecv, LastAckRecv time.Duration
}

// Traffic tells which dead-peer rule applies to c now: connecting in
// SYN-SENT; closed window when persist probes are pending or data waits
// behind a zero send window with nothing in flight; sending when
// retransmission is pending or data is unacknowledged; else idle (the
// keepalive rules, which also cover receiving).
func Traffic(c Conn) State {
	switch {
	case c.State == TCPSynSent:
		return StateConnecting
	case c.Timer == TimerPersist:
		return StateClosedWindow
	case c.HasSndWnd && c.SndWnd == 0 && c.Notsent > 0 && c.Unacked == 0:
		return StateClosedWindow
	case c.Timer == TimerOn, c.Unacked > 0:
		return StateSending
	}
	return StateIdle
}

// Quiet is the keepalive clock: how long the connection has heard nothing
// from its peer, data or ACK (keepalive_time_elapsed: the later of
// icsk_ack.lrcvtime and rcv_tstamp).
func Quiet(c Conn) time.Duration { return min(c.LastDataRecv, c.LastAckRecv) }

// Ended is which timer ended a connection, as what the kernel leaves on
// the socket tells it.
type Ended int

// What ended a connection the kernel timed out.
const (
	EndedUnknown      Ended = iota
	EndedUnacked            // retransmission gave up (user timeout or tcp_retries2)
	EndedClosedWindow       // zero-window probes ran past the user timeout
	EndedKeepalive          // keepalive probes went unanswered
)

// EndedBy classifies a connection the kernel timed out. When the kernel
// gives up it purges the write queue (tcp_done_with_error), so unacked and
// notsent read zero afterwards; what survives is the retransmission count
// (retransmission gave up), the probe count (keepalive or, behind a zero
// send window, persist probes) and the send window.
func EndedBy(c Conn) Ended {
	switch {
	case c.Retransmits > 0 || c.Unacked > 0:
		return EndedUnacked
	case c.SndWnd == 0 && (c.Probes > 0 || c.Notsent > 0):
		return EndedClosedWindow
	case c.Probes > 0:
		return EndedKeepalive
	}
	return EndedUnknown
}
