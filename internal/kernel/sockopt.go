package kernel

import (
	"math"
	"time"
)

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
	// RTOMax is TCP_RTO_MAX_MS (Linux 6.15+), milliseconds: the cap on
	// each backed-off retransmission timeout. Zero: the kernel's (120 s,
	// or net.ipv4.tcp_rto_max_ms); not set, and read back as zero, where
	// the kernel lacks the option (RTOMaxSupported).
	RTOMax time.Duration
}

// Keepalive is the part of o that decides the keepalive death.
func (o Options) Keepalive() Keepalive {
	return Keepalive{Idle: o.Idle, Interval: o.Interval, Count: o.Count, UserTimeout: o.UserTimeout}
}

// Limits of the options (include/net/tcp.h; TCP_USER_TIMEOUT is an int
// of milliseconds, do_tcp_setsockopt rejects a negative one).
const (
	MaxKeepaliveSeconds = 32767                            // MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL
	MaxKeepaliveCount   = 127                              // MAX_TCP_KEEPCNT
	MaxUserTimeout      = math.MaxInt32 * time.Millisecond // TCP_USER_TIMEOUT
	MinRTOMax           = time.Second                      // TCP_RTO_MAX_MS takes 1 s to MaxRTO (120 s)
)

// RTOMaxSupported is whether kernel v has TCP_RTO_MAX_MS (Linux 6.15).
func RTOMaxSupported(v Version) bool { return !v.Less(Version{6, 15, 0}) }

// Defaults of a stock kernel's per-namespace sysctls (tcp_sk_init in
// net/ipv4/tcp_ipv4.c, include/net/tcp.h).
const (
	DefaultRetries2          = 15               // TCP_RETR2: net.ipv4.tcp_retries2
	DefaultSynRetries        = 6                // TCP_SYN_RETRIES: net.ipv4.tcp_syn_retries
	DefaultSynLinearTimeouts = 4                // net.ipv4.tcp_syn_linear_timeouts (6.x)
	DefaultKeepaliveTime     = 2 * time.Hour    // TCP_KEEPALIVE_TIME: net.ipv4.tcp_keepalive_time
	DefaultKeepaliveIntvl    = 75 * time.Second // TCP_KEEPALIVE_INTVL: net.ipv4.tcp_keepalive_intvl
	DefaultKeepaliveProbes   = 9                // TCP_KEEPALIVE_PROBES: net.ipv4.tcp_keepalive_probes
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

// Tighten is want with every value of cur that is already stricter kept:
// the rule of enforce's programs (enforce.c's tighten and stricter) and of
// apply, which only tighten. Keepalive is on; TCP_KEEPIDLE, TCP_KEEPINTVL,
// TCP_KEEPCNT and TCP_USER_TIMEOUT keep cur's value where it is positive
// and not above want's (a zero user timeout is none, the loosest);
// TCP_SYNCNT and TCP_RTO_MAX_MS likewise, and are left alone when want
// leaves them (zero); TCP_RTO_MAX_MS also when cur's user timeout is kept.
// kept names the options whose stricter values were kept.
func Tighten(cur, want Options) (o Options, kept []string) {
	o = want
	o.KeepAlive = true
	keep := func(name string, c, w int64, set func()) {
		if c > 0 && c < w {
			set()
			kept = append(kept, name)
		}
	}
	keep("TCP_KEEPIDLE", int64(cur.Idle), int64(want.Idle), func() { o.Idle = cur.Idle })
	keep("TCP_KEEPINTVL", int64(cur.Interval), int64(want.Interval), func() { o.Interval = cur.Interval })
	keep("TCP_KEEPCNT", int64(cur.Count), int64(want.Count), func() { o.Count = cur.Count })
	if want.UserTimeout > 0 {
		keep("TCP_USER_TIMEOUT", int64(cur.UserTimeout), int64(want.UserTimeout), func() { o.UserTimeout = cur.UserTimeout })
	}
	if want.SynCount > 0 {
		keep("TCP_SYNCNT", int64(cur.SynCount), int64(want.SynCount), func() { o.SynCount = cur.SynCount })
	} else {
		o.SynCount = 0 // leave the socket's own
	}
	switch {
	case want.RTOMax == 0 || o.UserTimeout != want.UserTimeout:
		// Left alone: the cap belongs to the plan's user timeout, and a
		// stricter one kept is shorter than any backed-off RTO it caps.
		o.RTOMax = 0
	default:
		keep("TCP_RTO_MAX_MS", int64(cur.RTOMax), int64(want.RTOMax), func() { o.RTOMax = cur.RTOMax })
	}
	return o, kept
}
