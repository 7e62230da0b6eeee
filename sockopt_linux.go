package flatline

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// userTimeoutBoundsSYN is whether the user timeout ends a dial into a
// silent path (measured on Linux 6.18: 3.01 s for 3 s).
const userTimeoutBoundsSYN = true

func supported() error { return nil }

const (
	solSocket   = unix.SOL_SOCKET
	soKeepalive = unix.SO_KEEPALIVE
)

// sockopts is Linux's table: the keepalive values first, then SO_KEEPALIVE
// (which arms the timer), then TCP_USER_TIMEOUT (milliseconds, set to 0 for
// none) and TCP_SYNCNT.
func sockopts() []sockopt {
	return []sockopt{
		{name: "TCP_KEEPIDLE", level: unix.IPPROTO_TCP, opt: unix.TCP_KEEPIDLE, value: secondsOf(idleOf), load: loadIdle},
		{name: "TCP_KEEPINTVL", level: unix.IPPROTO_TCP, opt: unix.TCP_KEEPINTVL, value: secondsOf(intervalOf), load: loadInterval},
		{name: "TCP_KEEPCNT", level: unix.IPPROTO_TCP, opt: unix.TCP_KEEPCNT, value: countOf, load: loadCount},
		{name: "SO_KEEPALIVE", level: unix.SOL_SOCKET, opt: unix.SO_KEEPALIVE, value: keepAliveOf, load: loadKeepAlive, setZero: true},
		{name: "TCP_USER_TIMEOUT", level: unix.IPPROTO_TCP, opt: unix.TCP_USER_TIMEOUT, setZero: true,
			value: func(s Settings) int { return int(s.UserTimeout / time.Millisecond) },
			load:  func(s *Settings, v int) { s.UserTimeout = time.Duration(v) * time.Millisecond }},
		{name: "TCP_SYNCNT", level: unix.IPPROTO_TCP, opt: unix.TCP_SYNCNT, value: synCountOf, load: loadSynCount},
	}
}

func setsockoptInt(fd uintptr, level, opt, v int) error {
	return unix.SetsockoptInt(int(fd), level, opt, v)
}
func getsockoptInt(fd uintptr, level, opt int) (int, error) {
	return unix.GetsockoptInt(int(fd), level, opt)
}

// tcpClose is TCP_CLOSE in tcp_info's state.
const tcpClose = 7

func platformPlan(p *Plan) {
	p.Notes = append(p.Notes, icmpRevertNote)
	if h, err := ReadHost(); err == nil {
		p.Notes = append(p.Notes, KernelNotes(h)...)
	}
}

// icmpRevertNote is what Linux cannot promise for a busy connection: an
// ICMP unreachable (a router whose link to the peer is down) reverts the
// retransmission backoff (RFC 6069, tcp_ld_RTO_revert) and re-arms the timer without the
// user-timeout clamp. Measured in the lab, link down, data in flight:
// U=3 s died at 4.77-5.04 s (the last retransmission at 3.136 s plus its
// 1.632 s RTO); U=5 s at 5.27 s; U=10 s at 11.5 s.
const icmpRevertNote = "when a router on the path answers with ICMP unreachable (its link to the peer is down), " +
	"data in flight can end up to one backed-off RTO after the sending bound: the kernel reverts the backoff " +
	"and re-arms the timer without the user-timeout clamp (measured: U=3s ended at 4.8-5.0s)"

// connInfo is what Diagnose needs from TCP_INFO.
type connInfo struct {
	unacked, notsent, sndWnd uint32
	retransmits, probes      uint8
	closed                   bool // TCP_CLOSE: the kernel ended it (a peer's FIN leaves CLOSE-WAIT)
}

func readConnInfo(fd uintptr) (connInfo, error) {
	ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return connInfo{}, &OpError{Op: "read TCP_INFO", Err: os.NewSyscallError("getsockopt", err)}
	}
	return connInfo{
		unacked:     ti.Unacked,
		notsent:     ti.Notsent_bytes,
		sndWnd:      ti.Snd_wnd,
		retransmits: ti.Retransmits,
		probes:      ti.Probes,
		closed:      ti.State == tcpClose,
	}, nil
}
