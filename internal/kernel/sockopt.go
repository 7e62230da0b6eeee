package kernel

import "time"

// Options are the per-socket options that decide how long a dead peer goes
// unnoticed, in Go units (the root package's flatline.Settings has the
// same fields and converts to it).
type Options struct {
	KeepAlive   bool          // SO_KEEPALIVE
	Idle        time.Duration // TCP_KEEPIDLE, whole seconds
	Interval    time.Duration // TCP_KEEPINTVL, whole seconds
	Count       int           // TCP_KEEPCNT
	UserTimeout time.Duration // TCP_USER_TIMEOUT, milliseconds; zero: none
	SynCount    int           // TCP_SYNCNT; zero: the namespace's tcp_syn_retries
}

// Keepalive is the part of o that decides the keepalive death.
func (o Options) Keepalive() Keepalive {
	return Keepalive{Idle: o.Idle, Interval: o.Interval, Count: o.Count, UserTimeout: o.UserTimeout}
}

// Limits of the options (include/net/tcp.h).
const (
	MaxKeepaliveSeconds = 32767 // MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL
	MaxKeepaliveCount   = 127   // MAX_TCP_KEEPCNT
)

// Seconds converts a whole-second duration to the kernel's unit, rounding
// a fraction up (callers reject fractions before they get here, so a
// rounding never shortens what a user asked for).
func Seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// Millis converts a duration to TCP_USER_TIMEOUT's milliseconds, rounding
// a fraction up.
func Millis(d time.Duration) int { return int((d + time.Millisecond - 1) / time.Millisecond) }

// OptionError is a socket option the kernel refused to set or read.
type OptionError struct {
	Op   string // "set" or "read"
	Name string // the option, e.g. "TCP_USER_TIMEOUT"
	Err  error  // an *os.SyscallError
}

func (e *OptionError) Error() string { return e.Op + " " + e.Name + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }
