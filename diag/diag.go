package diag

import (
	"time"

	"github.com/flatline-dev/flatline"
)

// Options says what to inspect. The zero value inspects every TCP socket of
// the calling process's network namespace, in the states ss shows by
// default, with owners and options, judged against a 30 s promise.
type Options struct {
	// PID, when non-zero, restricts the scan to the sockets that process
	// holds open, in that process's network namespace, whichever namespace
	// the caller runs in.
	PID int
	// NetNS is a network namespace to inspect: a name under /run/netns
	// or a path such as /proc/123/ns/net. Empty means the caller's (or
	// PID's). With PID set it must name PID's namespace or be empty.
	NetNS string
	// Max is the longest a dead peer may go unnoticed for the verdict ok;
	// zero means flatline.DefaultTimeout (30 s).
	Max time.Duration
	// States selects TCP states, bit n for TCPState n; zero means
	// DefaultStates (what ss shows without a filter: no LISTEN, TIME-WAIT,
	// SYN-RECV). Use AllStates for every socket.
	States uint32
	// NoOwners skips the /proc fd walk: no pid, fd or command, and so no
	// option reads. With PID set the walk of that one process still runs.
	NoOwners bool
	// NoOptions skips reading socket options through pidfd_getfd; verdicts
	// then rest on what inet_diag alone shows.
	NoOptions bool
	// Sized, when set, is called with how many TCP sockets the namespace
	// holds (its sockstat) once that is known, before the sockets are
	// read (not called when sockstat is unreadable): a process that scans
	// once can prepare its heap for them (flatline inspect asks for huge
	// pages).
	Sized func(sockets int)
}

func (o Options) max() time.Duration {
	if o.Max <= 0 {
		return flatline.DefaultTimeout
	}
	return o.Max
}

func (o Options) states() uint32 {
	if o.States == 0 {
		return DefaultStates
	}
	return o.States & AllStates
}

// Owner is a process holding a socket open.
type Owner struct {
	PID  int
	FD   int
	Comm string // /proc/PID/comm
}

// Verdict is the inspector's judgement of one socket.
type Verdict string

// The verdicts, from the worst.
const (
	VerdictNever   Verdict = "never"                // a silent peer is never noticed in the socket's current state
	VerdictStuck   Verdict = "stuck-retransmitting" // data is unacknowledged through repeated timeouts right now
	VerdictSlow    Verdict = "slow"                 // noticed, later than Options.Max
	VerdictAtRisk  Verdict = "at-risk"              // noticed within Options.Max, but at the loss it has seen a live peer is likely declared dead (risk.go)
	VerdictFragile Verdict = "fragile"              // noticed within Options.Max, but a single lost keepalive probe kills it (grpc-go #6250)
	VerdictUnknown Verdict = "unknown"              // options unreadable and inet_diag alone does not decide
	VerdictOK      Verdict = "ok"                   // noticed within Options.Max
)

// Verdicts lists every verdict, from the worst.
func Verdicts() []Verdict {
	return []Verdict{VerdictNever, VerdictStuck, VerdictSlow, VerdictAtRisk, VerdictFragile, VerdictUnknown, VerdictOK}
}

func (v Verdict) rank() int {
	switch v {
	case VerdictNever:
		return 0
	case VerdictStuck:
		return 1
	case VerdictSlow:
		return 2
	case VerdictAtRisk:
		return 3
	case VerdictFragile:
		return 4
	case VerdictUnknown:
		return 5
	}
	return 6
}

// Socket is one TCP socket as the kernel reports it, with its owner, its
// options and the inspector's conclusion.
type Socket struct {
	DiagMsg
	// Owners are the processes holding the socket; usually one. Empty when
	// none was found (orphaned sockets, other PID namespaces, unreadable
	// /proc entries, or Options.NoOwners).
	Owners []Owner
	// Settings are the socket's options read back with getsockopt; nil
	// when unreadable, and OptionsErr then says why. Sockets with the
	// same settings may share them: copy before changing.
	Settings   *flatline.Settings
	OptionsErr error
	// Traffic is what the socket is doing now, as far as the dead-peer
	// rules go: idle, sending, closed-window or connecting.
	Traffic flatline.State
	// Bound is the library's bound for Traffic (flatline.Settings.Bounds,
	// the kernel model's arithmetic); zero when options are unreadable.
	Bound flatline.Bound
	// LostProbes is how many keepalive probes in a row the socket may lose
	// without being killed (the idle bound's), whatever the timers'
	// lateness; -1 when keepalive is off or options are unreadable.
	LostProbes int
	// Worst is how long from now, at worst, until the kernel reports the
	// peer dead if every packet is dropped from now on, timer slack
	// included (Bound.Slack): a bound the kernel does not exceed. Never
	// when it never does, Known false when it cannot be told.
	Worst time.Duration
	Never bool
	Known bool
	// LossSeen estimates the random loss each way on the socket's path:
	// the share of its segments it retransmitted (tcpi_total_retrans /
	// tcpi_segs_out), at most RiskMaxLoss. FalseKillsPerHour is the
	// false-kill model's expected kills an hour of this socket, its peer
	// alive, in its current state at LossSeen. Both are valid only when
	// RiskKnown: not below RiskMinSegments sent, without the counters or
	// the options, or in a state the model does not cover.
	LossSeen          float64
	FalseKillsPerHour float64
	RiskKnown         bool
	// Verdict and Reason are the judgement and its one-line reason.
	Verdict Verdict
	Reason  string
}

// Owner returns the first owner (lowest pid, then fd) and whether there is one.
func (s *Socket) Owner() (Owner, bool) {
	if len(s.Owners) == 0 {
		return Owner{}, false
	}
	return s.Owners[0], true
}

// Report is the result of one scan.
type Report struct {
	Time time.Time
	// Namespace is what was inspected: "current", a name or a path.
	Namespace string
	// PID is Options.PID.
	PID int
	// Host is the inspected namespace's TCP sysctls; HostErr says why they
	// could not be read (the verdicts then assume flatline.LinuxDefaults).
	Host    flatline.Host
	HostErr error
	Max     time.Duration
	// Sockets, worst first, grouped by owning process. Nil in a report of
	// ScanCompact, which writes them from a packed copy.
	Sockets []Socket
	// Notes say what the scan could not read or could not be sure of.
	Notes   []string
	Summary Summary

	rows []row   // the sockets packed, in Sockets' order, until expanded
	own  *owners // the rows' owners, by inode
	// dumped says the sockets came from an inet_diag dump: the socket
	// iterator's walk could not stand in for it.
	dumped bool
}

// expand makes Sockets from the packed rows (a Report of ScanCompact
// keeps them packed).
func (r *Report) expand() {
	if r.rows == nil {
		return
	}
	r.Sockets = make([]Socket, len(r.rows))
	prefault(r.Sockets)
	for i := range r.rows {
		r.rows[i].socket(&r.Sockets[i], r.own)
	}
	r.rows, r.own = nil, nil
}

// each calls fn with every socket in order: Sockets, or each packed row
// unpacked in turn into one Socket (fn must not keep it).
func (r *Report) each(fn func(*Socket) error) error {
	if r.rows == nil {
		for i := range r.Sockets {
			if err := fn(&r.Sockets[i]); err != nil {
				return err
			}
		}
		return nil
	}
	var s Socket
	for i := range r.rows {
		r.rows[i].socket(&s, r.own)
		if err := fn(&s); err != nil {
			return err
		}
	}
	return nil
}

// Summary counts sockets by verdict and by how long they would hang.
type Summary struct {
	Total     int
	ByVerdict map[Verdict]int
	// Hang counts sockets by worst case: within Max, up to 5 min, up to
	// 1 h, longer, never, unknown.
	Hang []HangCount
}

// HangCount is one bucket of Summary.Hang.
type HangCount struct {
	Label string
	Count int
}
