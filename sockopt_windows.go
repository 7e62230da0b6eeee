package flatline

import "golang.org/x/sys/windows"

// userTimeoutBoundsSYN is whether the user timeout ends a dial into a
// silent path. TCP_MAXRT is not known to bound a connect on windows (not
// measured here), so the dial deadline always does.
const userTimeoutBoundsSYN = false

func supported() error { return nil }

const (
	solSocket   = windows.SOL_SOCKET
	soKeepalive = windows.SO_KEEPALIVE
)

// sockopts is windows' table: TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT
// (Windows 10 1709 and later), and TCP_MAXRT (whole seconds, rounded up)
// for the user timeout, which bounds retransmission only.
func sockopts() []sockopt {
	needs := func(name string) *NotSupportedError {
		return &NotSupportedError{Feature: name, Needs: "Windows 10 1709", GOOS: "windows"}
	}
	return []sockopt{
		{name: "SO_KEEPALIVE", level: windows.SOL_SOCKET, opt: windows.SO_KEEPALIVE, value: keepAliveOf, load: loadKeepAlive, setZero: true},
		{name: "TCP_KEEPIDLE", level: windows.IPPROTO_TCP, opt: windows.TCP_KEEPIDLE, value: secondsOf(idleOf), load: loadIdle, notSupport: needs("TCP_KEEPIDLE")},
		{name: "TCP_KEEPINTVL", level: windows.IPPROTO_TCP, opt: windows.TCP_KEEPINTVL, value: secondsOf(intervalOf), load: loadInterval, notSupport: needs("TCP_KEEPINTVL")},
		{name: "TCP_KEEPCNT", level: windows.IPPROTO_TCP, opt: windows.TCP_KEEPCNT, value: countOf, load: loadCount, notSupport: needs("TCP_KEEPCNT")},
		{name: "TCP_MAXRT", level: windows.IPPROTO_TCP, opt: windows.TCP_MAXRT,
			value: func(s Settings) int { return seconds(s.UserTimeout) }, load: loadUserTimeoutSeconds},
	}
}

func setsockoptInt(fd uintptr, level, opt, v int) error {
	return windows.SetsockoptInt(windows.Handle(fd), level, opt, v)
}

func getsockoptInt(fd uintptr, level, opt int) (int, error) {
	return windows.GetsockoptInt(windows.Handle(fd), level, opt)
}

func platformPlan(p *Plan, _ Host) { retransmitOnlyPlan(p, "TCP_MAXRT") }
