package diag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// The kernel's netlink and inet_diag constants (linux/netlink.h,
// linux/sock_diag.h, linux/inet_diag.h). They are fixed by the kernel ABI.
const (
	nlmsgHdrLen     = 16
	nlmsgError      = 2
	nlmsgDone       = 3
	nlmFDumpIntr    = 0x10
	sockDiagByFam   = 20
	inetDiagMsgLen  = 72
	inetDiagReqLen  = 56
	inetDiagInfo    = 2 // INET_DIAG_INFO: struct tcp_info
	inetDiagShutdwn = 8 // INET_DIAG_SHUTDOWN: u8
	afInet          = 2
	afInet6         = 10
	ipprotoTCP      = 6
)

// ErrMalformed matches every error about a kernel message that is shorter
// or otherwise different from what its header says (*DecodeError).
var ErrMalformed = errors.New("malformed kernel message")

// DecodeError says which kernel structure could not be decoded and why.
// It matches ErrMalformed.
type DecodeError struct {
	What string // "netlink header", "inet_diag_msg", "rtattr", "tcp_info", ...
	Msg  string
}

func (e *DecodeError) Error() string { return "diag: decode " + e.What + ": " + e.Msg }

// Is makes errors.Is(err, ErrMalformed) true.
func (e *DecodeError) Is(target error) bool { return target == ErrMalformed }

func malformed(what, format string, a ...any) error {
	return &DecodeError{What: what, Msg: fmt.Sprintf(format, a...)}
}

// Timer is the kernel timer pending on a socket, as inet_diag reports it
// (idiag_timer).
type Timer uint8

// The timer kinds of inet_diag (the kernel model's).
const (
	TimerOff       = Timer(kernel.TimerOff)
	TimerOn        = Timer(kernel.TimerOn)
	TimerKeepalive = Timer(kernel.TimerKeepalive)
	TimerTimeWait  = Timer(kernel.TimerTimeWait)
	TimerPersist   = Timer(kernel.TimerPersist)
)

var timerNames = [...]string{"off", "on", "keepalive", "timewait", "persist"}

// String returns the name ss uses: off, on, keepalive, timewait, persist.
func (t Timer) String() string {
	if int(t) < len(timerNames) {
		return timerNames[t]
	}
	return fmt.Sprintf("timer(%d)", uint8(t))
}

// TCPState is a socket's TCP state (include/net/tcp_states.h).
type TCPState uint8

// The TCP states.
const (
	StateEstablished TCPState = kernel.TCPEstablished
	StateSynSent     TCPState = kernel.TCPSynSent
	StateSynRecv     TCPState = kernel.TCPSynRecv
	StateFinWait1    TCPState = kernel.TCPFinWait1
	StateFinWait2    TCPState = kernel.TCPFinWait2
	StateTimeWait    TCPState = kernel.TCPTimeWait
	StateClose       TCPState = kernel.TCPClose
	StateCloseWait   TCPState = kernel.TCPCloseWait
	StateLastAck     TCPState = kernel.TCPLastAck
	StateListen      TCPState = kernel.TCPListen
	StateClosing     TCPState = kernel.TCPClosing
	StateNewSynRecv  TCPState = kernel.TCPNewSynRecv
)

var stateNames = [...]string{
	"UNKNOWN", "ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",
	"TIME-WAIT", "UNCONN", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "SYN-RECV",
}

// String returns the name ss uses: ESTAB, SYN-SENT, FIN-WAIT-1, ...
func (s TCPState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("STATE(%d)", uint8(s))
}

// DefaultStates is the set ss shows without a state filter: every state
// but LISTEN, CLOSE, TIME-WAIT and SYN-RECV. Bit n stands for TCPState n.
const DefaultStates uint32 = (1<<13 - 1) &^ (1<<StateListen | 1<<StateClose | 1<<StateTimeWait | 1<<StateSynRecv | 1<<StateNewSynRecv | 1)

// AllStates selects sockets in every TCP state.
const AllStates uint32 = 1<<13 - 1

// TCPInfo is the part of the kernel's struct tcp_info that decides how and
// when a socket notices a dead peer. Durations are converted from the
// kernel's units (microseconds for rto, milliseconds for the last_* ages).
type TCPInfo struct {
	State       TCPState
	Retransmits int // tcpi_retransmits: consecutive retransmission timeouts of the same data
	Probes      int // tcpi_probes: unanswered keepalive or zero-window probes
	Backoff     int // tcpi_backoff: exponential backoff of the retransmission timer
	RTO         uint32
	Unacked     uint32 // tcpi_unacked: segments sent and not acknowledged
	// LastDataSent, LastAckSent, LastDataRecv, LastAckRecv: tcpi_last_*,
	// milliseconds since that event (tcpi_last_ack_sent is always 0).
	LastDataSent, LastAckSent, LastDataRecv, LastAckRecv uint32
	TotalRetrans                                         uint32 // tcpi_total_retrans
	SegsOut                                              uint32 // tcpi_segs_out (Linux 4.2+): segments sent, retransmissions included
	HasSegsOut                                           bool   // whether the kernel reported tcpi_segs_out
	NotsentBytes                                         uint32 // tcpi_notsent_bytes (Linux 4.6+)
	SndWnd                                               uint32 // tcpi_snd_wnd, bytes (Linux 5.4+)
	HasSndWnd                                            bool   // whether the kernel reported tcpi_snd_wnd
}

// Offsets in struct tcp_info (include/uapi/linux/tcp.h). Fields appended by
// newer kernels lie beyond the length older kernels send; the decoder takes
// what the length holds.
const (
	tcpiState        = 0
	tcpiRetransmits  = 2
	tcpiProbes       = 3
	tcpiBackoff      = 4
	tcpiRTO          = 8
	tcpiUnacked      = 24
	tcpiLastDataSent = 44
	tcpiLastAckSent  = 48
	tcpiLastDataRecv = 52
	tcpiLastAckRecv  = 56
	tcpiTotalRetrans = 100
	tcpiSegsOut      = 136
	tcpiNotsent      = 144
	tcpiSndWnd       = 228
	tcpiMinLen       = 104 // through tcpi_total_retrans: every kernel since 2.6
)

// DecodeTCPInfo decodes a struct tcp_info as the kernel sends it in an
// INET_DIAG_INFO attribute or getsockopt(TCP_INFO), in native byte order.
// It fails with ErrMalformed when b is shorter than the fields every
// kernel since 2.6 fills (104 bytes); later fields are taken when present.
func DecodeTCPInfo(b []byte) (TCPInfo, error) {
	if len(b) < tcpiMinLen {
		return TCPInfo{}, malformed("tcp_info", "%d bytes, want at least %d", len(b), tcpiMinLen)
	}
	u32 := func(off int) uint32 { return binary.NativeEndian.Uint32(b[off:]) }
	ti := TCPInfo{
		State:        TCPState(b[tcpiState]),
		Retransmits:  int(b[tcpiRetransmits]),
		Probes:       int(b[tcpiProbes]),
		Backoff:      int(b[tcpiBackoff]),
		RTO:          u32(tcpiRTO),
		Unacked:      u32(tcpiUnacked),
		LastDataSent: u32(tcpiLastDataSent),
		LastAckSent:  u32(tcpiLastAckSent),
		LastDataRecv: u32(tcpiLastDataRecv),
		LastAckRecv:  u32(tcpiLastAckRecv),
		TotalRetrans: u32(tcpiTotalRetrans),
	}
	if len(b) >= tcpiSegsOut+4 {
		ti.SegsOut, ti.HasSegsOut = u32(tcpiSegsOut), true
	}
	if len(b) >= tcpiNotsent+4 {
		ti.NotsentBytes = u32(tcpiNotsent)
	}
	if len(b) >= tcpiSndWnd+4 {
		ti.SndWnd = u32(tcpiSndWnd)
		ti.HasSndWnd = true
	}
	return ti, nil
}

// DiagMsg is one socket of an inet_diag dump: struct inet_diag_msg and the
// attributes flatline uses.
type DiagMsg struct {
	Family  uint8
	State   TCPState
	Timer   Timer
	Retrans int // idiag_retrans: retransmissions (timer on) or probes out (keepalive, persist)
	Local   netip.AddrPort
	Remote  netip.AddrPort
	Cookie  uint64 // the kernel's socket cookie: unique while the socket lives
	Expires uint32 // idiag_expires: ms until the timer fires (0 when off or overdue)
	RQueue  uint32
	WQueue  uint32
	UID     uint32
	Inode   uint64 // 0 for TIME-WAIT, request and orphaned sockets
	Info    *TCPInfo
	// Shutdown is INET_DIAG_SHUTDOWN: bit 0 receive, bit 1 send; -1 absent.
	Shutdown int
}

// DecodeDiagMsg decodes the payload of one SOCK_DIAG_BY_FAMILY message:
// struct inet_diag_msg followed by rtattr attributes. Unknown attributes
// are skipped; a malformed one is an ErrMalformed error.
func DecodeDiagMsg(b []byte) (DiagMsg, error) {
	var m DiagMsg
	var ti TCPInfo
	if err := decodeDiagMsg(b, &m, &ti); err != nil {
		return DiagMsg{}, err
	}
	return m, nil
}

// decodeDiagMsg is DecodeDiagMsg into m, with the tcp_info (if any)
// decoded into info and m.Info pointing at it: a scan of 20,000 sockets
// keeps them in a few large arrays instead of 20,000 allocations.
func decodeDiagMsg(b []byte, m *DiagMsg, info *TCPInfo) error {
	if len(b) < inetDiagMsgLen {
		return malformed("inet_diag_msg", "%d bytes, want %d", len(b), inetDiagMsgLen)
	}
	*m = DiagMsg{
		Family:   b[0],
		State:    TCPState(b[1]),
		Timer:    Timer(b[2]),
		Retrans:  int(b[3]),
		Shutdown: -1,
	}
	sport := binary.BigEndian.Uint16(b[4:])
	dport := binary.BigEndian.Uint16(b[6:])
	switch m.Family {
	case afInet:
		m.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), sport)
		m.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[24:28])), dport)
	case afInet6:
		m.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), sport)
		m.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), dport)
	default:
		return malformed("inet_diag_msg", "address family %d, want AF_INET or AF_INET6", m.Family)
	}
	ne := binary.NativeEndian
	m.Cookie = uint64(ne.Uint32(b[44:])) | uint64(ne.Uint32(b[48:]))<<32
	m.Expires = ne.Uint32(b[52:])
	m.RQueue = ne.Uint32(b[56:])
	m.WQueue = ne.Uint32(b[60:])
	m.UID = ne.Uint32(b[64:])
	m.Inode = uint64(ne.Uint32(b[68:]))

	attrs := b[inetDiagMsgLen:]
	for len(attrs) >= 4 {
		alen := int(ne.Uint16(attrs))
		atype := ne.Uint16(attrs[2:]) & 0x3fff // drop NLA_F_NESTED, NLA_F_NET_BYTEORDER
		if alen < 4 || alen > len(attrs) {
			m.Info = nil
			return malformed("rtattr", "length %d with %d bytes left", alen, len(attrs))
		}
		val := attrs[4:alen]
		switch atype {
		case inetDiagInfo:
			ti, err := DecodeTCPInfo(val)
			if err != nil {
				m.Info = nil
				return err
			}
			*info = ti
			m.Info = info
		case inetDiagShutdwn:
			if len(val) < 1 {
				m.Info = nil
				return malformed("INET_DIAG_SHUTDOWN", "empty")
			}
			m.Shutdown = int(val[0])
		}
		next := (alen + 3) &^ 3
		if next >= len(attrs) {
			break
		}
		attrs = attrs[next:]
	}
	return nil
}

// netlinkMsg is one message of a netlink stream: its type, flags and
// payload (after the 16-byte header).
type netlinkMsg struct {
	Type, Flags uint16
	Seq         uint32
	Payload     []byte
}

// splitNetlink splits what one recv returned into messages. It fails with
// ErrMalformed when a header's length runs past the buffer or is shorter
// than a header.
func splitNetlink(b []byte, yield func(netlinkMsg) error) error {
	ne := binary.NativeEndian
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return malformed("netlink header", "%d bytes left, want %d", len(b), nlmsgHdrLen)
		}
		n := int(ne.Uint32(b))
		if n < nlmsgHdrLen || n > len(b) {
			return malformed("netlink header", "length %d with %d bytes left", n, len(b))
		}
		m := netlinkMsg{Type: ne.Uint16(b[4:]), Flags: ne.Uint16(b[6:]), Seq: ne.Uint32(b[8:]), Payload: b[nlmsgHdrLen:n]}
		if err := yield(m); err != nil {
			return err
		}
		next := (n + 3) &^ 3
		if next >= len(b) {
			return nil
		}
		b = b[next:]
	}
	return nil
}

// decodeNetlinkError decodes the payload of an NLMSG_ERROR message: the
// negated errno (0 is an acknowledgement).
func decodeNetlinkError(b []byte) (int32, error) {
	if len(b) < 4 {
		return 0, malformed("nlmsgerr", "%d bytes, want at least 4", len(b))
	}
	return -int32(binary.NativeEndian.Uint32(b)), nil
}

// DumpParser turns the bytes of an inet_diag dump, one recv at a time,
// into sockets. It is pure: the I/O lives in the dump functions.
type DumpParser struct {
	// Seq is the sequence number of the request; messages of another
	// sequence are ignored.
	Seq uint32
	// Interrupted is set when the kernel flagged the dump as inconsistent
	// (NLM_F_DUMP_INTR: sockets came or went while it ran).
	Interrupted bool
	// Done is set once NLMSG_DONE arrived.
	Done bool
}

// Feed decodes one recv's worth of messages and calls yield for each
// socket. It returns the kernel's error from an NLMSG_ERROR message
// (as a syscall errno value, non-zero), a decode error, or yield's error.
func (p *DumpParser) Feed(b []byte, yield func(DiagMsg) error) (errno int32, err error) {
	return p.feed(b, func(payload []byte) error {
		d, err := DecodeDiagMsg(payload)
		if err != nil {
			return err
		}
		return yield(d)
	})
}

// feed is Feed with each socket's message undecoded: the payload of one
// SOCK_DIAG_BY_FAMILY message (decodeDiagMsg decodes it), valid only
// during the call.
func (p *DumpParser) feed(b []byte, yield func(payload []byte) error) (errno int32, err error) {
	err = splitNetlink(b, func(m netlinkMsg) error {
		if m.Seq != p.Seq || p.Done {
			return nil
		}
		if m.Flags&nlmFDumpIntr != 0 {
			p.Interrupted = true
		}
		switch m.Type {
		case nlmsgDone:
			p.Done = true
			return nil
		case nlmsgError:
			e, err := decodeNetlinkError(m.Payload)
			if err != nil {
				return err
			}
			if e != 0 {
				errno = e
				p.Done = true
			}
			return nil
		case sockDiagByFam:
			return yield(m.Payload)
		}
		return nil
	})
	return errno, err
}

// encodeDiagRequest builds the SOCK_DIAG_BY_FAMILY dump request for TCP
// sockets of family in the given states (bit n for TCPState n), asking for
// tcp_info (the kernel adds INET_DIAG_SHUTDOWN unasked).
func encodeDiagRequest(seq uint32, family uint8, states uint32) []byte {
	ne := binary.NativeEndian
	b := make([]byte, nlmsgHdrLen+inetDiagReqLen)
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], sockDiagByFam)
	ne.PutUint16(b[6:], 0x1|0x300) // NLM_F_REQUEST | NLM_F_DUMP
	ne.PutUint32(b[8:], seq)
	r := b[nlmsgHdrLen:]
	r[0] = family
	r[1] = ipprotoTCP
	r[2] = 1 << (inetDiagInfo - 1)
	ne.PutUint32(r[4:], states)
	return b
}
