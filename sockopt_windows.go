package flatline

import (
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// userTimeoutBoundsSYN is whether the user timeout ends a dial into a
// silent path (measured on Linux 6.18: 3.01 s for 3 s).
const userTimeoutBoundsSYN = false

func supported() error { return nil }

// setOptions on windows: TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT
// (Windows 10 1709 and later), and TCP_MAXRT (whole seconds, rounded up)
// for the user timeout, which bounds retransmission only.
func setOptions(fd uintptr, s Settings) error {
	h := windows.Handle(fd)
	for _, o := range []struct {
		name       string
		level, opt int
		value      int
	}{
		{"SO_KEEPALIVE", windows.SOL_SOCKET, windows.SO_KEEPALIVE, boolInt(s.KeepAlive)},
		{"TCP_KEEPIDLE", windows.IPPROTO_TCP, windows.TCP_KEEPIDLE, seconds(s.Idle)},
		{"TCP_KEEPINTVL", windows.IPPROTO_TCP, windows.TCP_KEEPINTVL, seconds(s.Interval)},
		{"TCP_KEEPCNT", windows.IPPROTO_TCP, windows.TCP_KEEPCNT, s.Count},
		{"TCP_MAXRT", windows.IPPROTO_TCP, windows.TCP_MAXRT, seconds(s.UserTimeout)},
	} {
		if o.value == 0 && o.opt != windows.SO_KEEPALIVE {
			continue
		}
		if err := windows.SetsockoptInt(h, o.level, o.opt, o.value); err != nil {
			if o.opt == windows.TCP_KEEPCNT || o.opt == windows.TCP_KEEPINTVL || o.opt == windows.TCP_KEEPIDLE {
				return &NotSupportedError{Feature: o.name, Needs: "Windows 10 1709", GOOS: "windows"}
			}
			return &OpError{Op: "set " + o.name, Err: os.NewSyscallError("setsockopt", err)}
		}
	}
	return nil
}

func getOptions(fd uintptr) (Settings, error) {
	h := windows.Handle(fd)
	var s Settings
	for _, o := range []struct {
		name       string
		level, opt int
		set        func(int)
	}{
		{"SO_KEEPALIVE", windows.SOL_SOCKET, windows.SO_KEEPALIVE, func(v int) { s.KeepAlive = v != 0 }},
		{"TCP_KEEPIDLE", windows.IPPROTO_TCP, windows.TCP_KEEPIDLE, func(v int) { s.Idle = time.Duration(v) * time.Second }},
		{"TCP_KEEPINTVL", windows.IPPROTO_TCP, windows.TCP_KEEPINTVL, func(v int) { s.Interval = time.Duration(v) * time.Second }},
		{"TCP_KEEPCNT", windows.IPPROTO_TCP, windows.TCP_KEEPCNT, func(v int) { s.Count = v }},
		{"TCP_MAXRT", windows.IPPROTO_TCP, windows.TCP_MAXRT, func(v int) { s.UserTimeout = time.Duration(v) * time.Second }},
	} {
		v, err := windows.GetsockoptInt(h, o.level, o.opt)
		if err != nil {
			return Settings{}, &OpError{Op: "read " + o.name, Err: os.NewSyscallError("getsockopt", err)}
		}
		o.set(v)
	}
	return s, nil
}

func rearmKeepalive(fd uintptr) error {
	for _, v := range []int{0, 1} {
		if err := windows.SetsockoptInt(windows.Handle(fd), windows.SOL_SOCKET, windows.SO_KEEPALIVE, v); err != nil {
			return &OpError{Op: "re-arm SO_KEEPALIVE", Err: os.NewSyscallError("setsockopt", err)}
		}
	}
	return nil
}

func platformPlan(p *Plan) { retransmitOnlyPlan(p, "TCP_MAXRT") }
