package enforce

import (
	"net/netip"
	"time"

	"github.com/flatline-dev/flatline"
)

// ApplyOptions says what Apply sets. The zero value applies the plan of a
// zero flatline.Config (30 s).
type ApplyOptions struct {
	// Config is the promise; its Plan's settings are set on every TCP
	// socket of the process.
	Config flatline.Config
	// DryRun reads every socket's options and reports what would change,
	// changing nothing.
	DryRun bool
}

// AppliedSocket is one TCP socket of the process: what it had, what it has
// now, and how long a silent peer would go unnoticed before and after.
type AppliedSocket struct {
	FD      int
	Inode   uint64
	State   string // TCP state, as ss names it ("ESTAB", "LISTEN", ...)
	Local   netip.AddrPort
	Remote  netip.AddrPort
	Traffic flatline.State // what the connection is doing (idle for a listener: its accepted connections start idle)
	// Before and After are the options read back before and after the
	// change; nil when unreadable (Err says why). With DryRun, After is
	// what would be set.
	Before, After *flatline.Settings
	// BeforeBound and AfterBound are the worst case for Traffic with
	// Before and After on the process's namespace's sysctls.
	BeforeBound, AfterBound flatline.Bound
	// Changed is true when the options were set (false for DryRun).
	Changed bool
	// Kept names the options whose values were already stricter than the
	// plan's and were kept (kernel.Tighten: apply only tightens).
	Kept []string
	// Jitter is the offset added to the plan's TCP_KEEPIDLE and
	// TCP_USER_TIMEOUT for this socket (kernel.Jitter of its ports, as
	// enforce does), so that sockets changed together do not probe
	// together; AfterBound includes it.
	Jitter time.Duration
	// Err says why the socket was not changed: no permission, gone
	// mid-way (matches diag.ErrGone), a failed setsockopt.
	Err error
}

// ApplyReport is the result of Apply.
type ApplyReport struct {
	Time   time.Time
	PID    int
	Comm   string
	DryRun bool
	Plan   flatline.Plan
	Host   flatline.Host
	// Sockets are the process's TCP sockets, by descriptor.
	Sockets []AppliedSocket
	// Worst is, per state, the worst case over the sockets after the
	// change (the plan's, when every socket took it).
	Worst []flatline.Bound
	// Changed and Failed count sockets set and sockets that could not be.
	Changed, Failed int
}
