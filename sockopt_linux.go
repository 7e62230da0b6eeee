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

// setOptions sets s on a Linux TCP socket: the keepalive values first, then
// SO_KEEPALIVE (which arms the timer), then TCP_USER_TIMEOUT and TCP_SYNCNT
// when non-zero. Seconds and milliseconds come from the Settings' whole
// values: Config.Validate has made sure they are whole.
func setOptions(fd uintptr, s Settings) error {
	f := int(fd)
	opts := []struct {
		name       string
		level, opt int
		value      int
	}{
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, seconds(s.Idle)},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, seconds(s.Interval)},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, s.Count},
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolInt(s.KeepAlive)},
		{"TCP_USER_TIMEOUT", unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(s.UserTimeout / time.Millisecond)},
		{"TCP_SYNCNT", unix.IPPROTO_TCP, unix.TCP_SYNCNT, s.SynCount},
	}
	for _, o := range opts {
		if o.value == 0 && o.opt != unix.SO_KEEPALIVE && o.opt != unix.TCP_USER_TIMEOUT {
			continue // zero: leave the kernel's value
		}
		if err := unix.SetsockoptInt(f, o.level, o.opt, o.value); err != nil {
			return &OpError{Op: "set " + o.name, Err: os.NewSyscallError("setsockopt", err)}
		}
	}
	return nil
}

func getOptions(fd uintptr) (Settings, error) {
	f := int(fd)
	var s Settings
	for _, o := range []struct {
		name       string
		level, opt int
		set        func(int)
	}{
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, func(v int) { s.KeepAlive = v != 0 }},
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, func(v int) { s.Idle = time.Duration(v) * time.Second }},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, func(v int) { s.Interval = time.Duration(v) * time.Second }},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, func(v int) { s.Count = v }},
		{"TCP_USER_TIMEOUT", unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, func(v int) { s.UserTimeout = time.Duration(v) * time.Millisecond }},
		{"TCP_SYNCNT", unix.IPPROTO_TCP, unix.TCP_SYNCNT, func(v int) { s.SynCount = v }},
	} {
		v, err := unix.GetsockoptInt(f, o.level, o.opt)
		if err != nil {
			return Settings{}, &OpError{Op: "read " + o.name, Err: os.NewSyscallError("getsockopt", err)}
		}
		o.set(v)
	}
	return s, nil
}

// rearmKeepalive turns SO_KEEPALIVE off and on: the kernel then arms the
// keepalive timer a full idle period from now.
func rearmKeepalive(fd uintptr) error {
	for _, v := range []int{0, 1} {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE, v); err != nil {
			return &OpError{Op: "re-arm SO_KEEPALIVE", Err: os.NewSyscallError("setsockopt", err)}
		}
	}
	return nil
}

func platformPlan(p *Plan) {
	p.Notes = append(p.Notes, icmpRevertNote)
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
	}, nil
}
