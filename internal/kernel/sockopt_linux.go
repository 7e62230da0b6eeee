package kernel

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// option is one row of Linux's option table: where it lives and how an
// Options field maps to the kernel's integer.
type option struct {
	name       string
	level, opt int
	value      func(Options) int
	load       func(*Options, int)
	setZero    bool // set even when the value is zero (on/off, or "none")
	// optional: a kernel without the option (ENOPROTOOPT) is no error:
	// setting it is skipped, reading it gives zero.
	optional bool
}

// options is Linux's table, in the order they are set: the keepalive
// values first, then SO_KEEPALIVE (which arms the timer with them), then
// TCP_USER_TIMEOUT (0: none) and TCP_SYNCNT.
var options = [...]option{
	{name: "TCP_KEEPIDLE", level: unix.IPPROTO_TCP, opt: unix.TCP_KEEPIDLE,
		value: func(o Options) int { return Seconds(o.Idle) },
		load:  func(o *Options, v int) { o.Idle = time.Duration(v) * time.Second }},
	{name: "TCP_KEEPINTVL", level: unix.IPPROTO_TCP, opt: unix.TCP_KEEPINTVL,
		value: func(o Options) int { return Seconds(o.Interval) },
		load:  func(o *Options, v int) { o.Interval = time.Duration(v) * time.Second }},
	{name: "TCP_KEEPCNT", level: unix.IPPROTO_TCP, opt: unix.TCP_KEEPCNT,
		value: func(o Options) int { return o.Count },
		load:  func(o *Options, v int) { o.Count = v }},
	{name: "SO_KEEPALIVE", level: unix.SOL_SOCKET, opt: unix.SO_KEEPALIVE, setZero: true,
		value: func(o Options) int {
			if o.KeepAlive {
				return 1
			}
			return 0
		},
		load: func(o *Options, v int) { o.KeepAlive = v != 0 }},
	{name: "TCP_USER_TIMEOUT", level: unix.IPPROTO_TCP, opt: unix.TCP_USER_TIMEOUT, setZero: true,
		value: func(o Options) int { return Millis(o.UserTimeout) },
		load:  func(o *Options, v int) { o.UserTimeout = time.Duration(v) * time.Millisecond }},
	{name: "TCP_SYNCNT", level: unix.IPPROTO_TCP, opt: unix.TCP_SYNCNT,
		value: func(o Options) int { return o.SynCount },
		load:  func(o *Options, v int) { o.SynCount = v }},
	// Linux 6.15+; the kernel's own cap (120 s) reads back as zero.
	{name: "TCP_RTO_MAX_MS", level: unix.IPPROTO_TCP, opt: unix.TCP_RTO_MAX_MS, optional: true,
		value: func(o Options) int { return Millis(o.RTOMax) },
		load: func(o *Options, v int) {
			if d := time.Duration(v) * time.Millisecond; d != MaxRTO {
				o.RTOMax = d
			}
		}},
}

// SetOptions sets o on the socket fd, in the table's order. A zero value
// leaves the kernel's own unless the option is an on/off one. The error is
// an *OptionError naming the option.
func SetOptions(fd int, o Options) error {
	for _, opt := range options {
		v := opt.value(o)
		if v == 0 && !opt.setZero {
			continue
		}
		if err := unix.SetsockoptInt(fd, opt.level, opt.opt, v); err != nil {
			if opt.optional && errors.Is(err, unix.ENOPROTOOPT) {
				continue // before the kernel that has it: the model says what that costs
			}
			return &OptionError{Op: "set", Name: opt.name, Err: os.NewSyscallError("setsockopt", err)}
		}
	}
	return nil
}

// GetOptions reads every option of the table back from fd: the effective
// values (TCP_KEEPIDLE and friends report the namespace's sysctl when the
// socket has none of its own).
func GetOptions(fd int) (Options, error) {
	var o Options
	for _, opt := range options {
		v, err := unix.GetsockoptInt(fd, opt.level, opt.opt)
		if opt.optional && errors.Is(err, unix.ENOPROTOOPT) {
			continue
		}
		if err != nil {
			return Options{}, &OptionError{Op: "read", Name: opt.name, Err: os.NewSyscallError("getsockopt", err)}
		}
		opt.load(&o, v)
	}
	return o, nil
}

// Rearm turns SO_KEEPALIVE off and on: the kernel then arms the keepalive
// timer a full idle period from now (after that the phase follows the last
// segment received).
func Rearm(fd int) error {
	for _, v := range []int{0, 1} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, v); err != nil {
			return &OptionError{Op: "set", Name: "SO_KEEPALIVE (re-arm)", Err: os.NewSyscallError("setsockopt", err)}
		}
	}
	return nil
}
