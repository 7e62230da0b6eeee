//go:build !linux

package flatline

import (
	"os"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// sockopt is one socket option flatline sets and reads back: its name,
// where it lives, and how a Settings field maps to the kernel's integer.
type sockopt struct {
	name       string
	level, opt int
	value      func(Settings) int   // what to set
	load       func(*Settings, int) // what a read-back means
	setZero    bool                 // set even when value is zero (an on/off or "none" option)
	notSupport *NotSupportedError   // a failure to set it means the platform lacks it
	_          struct{}             // keyed literals only
}

// Helpers for the per-OS tables.
func secondsOf(f func(Settings) time.Duration) func(Settings) int {
	return func(s Settings) int { return seconds(f(s)) }
}

// setOptions sets s on a socket, option by option in the platform's order
// (keepalive values before SO_KEEPALIVE, which arms the timer). A zero value
// leaves the kernel's own unless the option is an on/off one.
func setOptions(fd uintptr, s Settings) error {
	if err := supported(); err != nil {
		return err
	}
	for _, o := range sockopts() {
		v := o.value(s)
		if v == 0 && !o.setZero {
			continue
		}
		if err := setsockoptInt(fd, o.level, o.opt, v); err != nil {
			if o.notSupport != nil {
				return o.notSupport
			}
			return &OpError{Op: "set " + o.name, Err: os.NewSyscallError("setsockopt", err)}
		}
	}
	return nil
}

// getOptions reads back every option of the platform's table.
func getOptions(fd uintptr) (Settings, error) {
	if err := supported(); err != nil {
		return Settings{}, err
	}
	var s Settings
	for _, o := range sockopts() {
		v, err := getsockoptInt(fd, o.level, o.opt)
		if err != nil {
			return Settings{}, &OpError{Op: "read " + o.name, Err: os.NewSyscallError("getsockopt", err)}
		}
		o.load(&s, v)
	}
	return s, nil
}

// rearmKeepalive turns SO_KEEPALIVE off and on: the kernel then arms the
// keepalive timer a full idle period from now.
func rearmKeepalive(fd uintptr) error {
	for _, v := range []int{0, 1} {
		if err := setsockoptInt(fd, solSocket, soKeepalive, v); err != nil {
			return &OpError{Op: "re-arm SO_KEEPALIVE", Err: os.NewSyscallError("setsockopt", err)}
		}
	}
	return nil
}

// Field accessors shared by the tables.
func keepAliveOf(s Settings) int                { return boolInt(s.KeepAlive) }
func idleOf(s Settings) time.Duration           { return s.Idle }
func intervalOf(s Settings) time.Duration       { return s.Interval }
func countOf(s Settings) int                    { return s.Count }
func synCountOf(s Settings) int                 { return s.SynCount }
func loadKeepAlive(s *Settings, v int)          { s.KeepAlive = v != 0 }
func loadIdle(s *Settings, v int)               { s.Idle = time.Duration(v) * time.Second }
func loadInterval(s *Settings, v int)           { s.Interval = time.Duration(v) * time.Second }
func loadCount(s *Settings, v int)              { s.Count = v }
func loadSynCount(s *Settings, v int)           { s.SynCount = v }
func loadUserTimeoutSeconds(s *Settings, v int) { s.UserTimeout = time.Duration(v) * time.Second }

// seconds converts a whole-second duration to the kernel's unit, rounding
// a fraction up, as the kernel model does on Linux.
func seconds(d time.Duration) int { return kernel.Seconds(d) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
