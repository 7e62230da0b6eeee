package flatline

import "golang.org/x/sys/unix"

// userTimeoutBoundsSYN is whether the user timeout ends a dial into a
// silent path. TCP_RXT_CONNDROPTIME is not known to bound a connect on darwin (not
// measured here), so the dial deadline always does.
const userTimeoutBoundsSYN = false

func supported() error { return nil }

const (
	solSocket   = unix.SOL_SOCKET
	soKeepalive = unix.SO_KEEPALIVE
)

// sockopts is darwin's table: TCP_KEEPALIVE is the idle time; there is no
// TCP_USER_TIMEOUT, so the user timeout becomes TCP_RXT_CONNDROPTIME (whole
// seconds, rounded up), which bounds retransmission only.
func sockopts() []sockopt {
	return []sockopt{
		{name: "TCP_KEEPALIVE", level: unix.IPPROTO_TCP, opt: unix.TCP_KEEPALIVE, value: secondsOf(idleOf), load: loadIdle},
		{name: "TCP_KEEPINTVL", level: unix.IPPROTO_TCP, opt: unix.TCP_KEEPINTVL, value: secondsOf(intervalOf), load: loadInterval},
		{name: "TCP_KEEPCNT", level: unix.IPPROTO_TCP, opt: unix.TCP_KEEPCNT, value: countOf, load: loadCount},
		{name: "SO_KEEPALIVE", level: unix.SOL_SOCKET, opt: unix.SO_KEEPALIVE, value: keepAliveOf, load: loadKeepAlive, setZero: true},
		{name: "TCP_RXT_CONNDROPTIME", level: unix.IPPROTO_TCP, opt: unix.TCP_RXT_CONNDROPTIME,
			value: func(s Settings) int { return seconds(s.UserTimeout) }, load: loadUserTimeoutSeconds},
	}
}

func setsockoptInt(fd uintptr, level, opt, v int) error {
	return unix.SetsockoptInt(int(fd), level, opt, v)
}
func getsockoptInt(fd uintptr, level, opt int) (int, error) {
	return unix.GetsockoptInt(int(fd), level, opt)
}

func platformPlan(p *Plan, _ Host) { retransmitOnlyPlan(p, "TCP_RXT_CONNDROPTIME") }
