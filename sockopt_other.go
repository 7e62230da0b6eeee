//go:build !linux && !darwin && !windows

package flatline

import "runtime"

// userTimeoutBoundsSYN is whether the user timeout ends a dial into a
// silent path: nothing is set on this platform.
const userTimeoutBoundsSYN = false

func supported() error {
	return &NotSupportedError{Feature: "TCP_USER_TIMEOUT and keepalive tuning", GOOS: runtime.GOOS}
}

const (
	solSocket   = 0
	soKeepalive = 0
)

func sockopts() []sockopt { return nil }

func setsockoptInt(uintptr, int, int, int) error   { return supported() }
func getsockoptInt(uintptr, int, int) (int, error) { return 0, supported() }

func platformPlan(p *Plan, _ Host) {
	p.Notes = append(p.Notes, "flatline cannot set socket options on "+runtime.GOOS+": Dialer, ListenConfig and Configure return ErrNotSupported")
}
