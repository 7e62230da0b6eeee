package flatline

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// userTimeoutBoundsSYN is whether the user timeout ends a dial into a
// silent path (measured on Linux 6.18: 3.01 s for 3 s).
const userTimeoutBoundsSYN = false

func supported() error { return nil }

// setOptions on darwin: TCP_KEEPALIVE is the idle time; there is no
// TCP_USER_TIMEOUT, so the user timeout becomes TCP_RXT_CONNDROPTIME
// (whole seconds, rounded up), which bounds retransmission only.
func setOptions(fd uintptr, s Settings) error {
	f := int(fd)
	for _, o := range []struct {
		name       string
		level, opt int
		value      int
	}{
		{"TCP_KEEPALIVE", unix.IPPROTO_TCP, unix.TCP_KEEPALIVE, seconds(s.Idle)},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, seconds(s.Interval)},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, s.Count},
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolInt(s.KeepAlive)},
		{"TCP_RXT_CONNDROPTIME", unix.IPPROTO_TCP, unix.TCP_RXT_CONNDROPTIME, seconds(s.UserTimeout)},
	} {
		if o.value == 0 && o.opt != unix.SO_KEEPALIVE {
			continue
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
		{"TCP_KEEPALIVE", unix.IPPROTO_TCP, unix.TCP_KEEPALIVE, func(v int) { s.Idle = time.Duration(v) * time.Second }},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, func(v int) { s.Interval = time.Duration(v) * time.Second }},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, func(v int) { s.Count = v }},
		{"TCP_RXT_CONNDROPTIME", unix.IPPROTO_TCP, unix.TCP_RXT_CONNDROPTIME, func(v int) { s.UserTimeout = time.Duration(v) * time.Second }},
	} {
		v, err := unix.GetsockoptInt(f, o.level, o.opt)
		if err != nil {
			return Settings{}, &OpError{Op: "read " + o.name, Err: os.NewSyscallError("getsockopt", err)}
		}
		o.set(v)
	}
	return s, nil
}

func rearmKeepalive(fd uintptr) error {
	for _, v := range []int{0, 1} {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE, v); err != nil {
			return &OpError{Op: "re-arm SO_KEEPALIVE", Err: os.NewSyscallError("setsockopt", err)}
		}
	}
	return nil
}

func platformPlan(p *Plan) { retransmitOnlyPlan(p, "TCP_RXT_CONNDROPTIME") }
