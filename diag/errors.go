package diag

import (
	"errors"
	"fmt"
)

var (
	// ErrGone matches errors about a socket that closed, or a process that
	// exited, between the dump and the read: the scan goes on without it.
	ErrGone = errors.New("closed or exited during the scan")
	// ErrNoProcess is returned by Scan when Options.PID names no process.
	ErrNoProcess = errors.New("no such process")
)

// OptionsError says why one socket's options could not be read, and what
// would make them readable.
type OptionsError struct {
	PID, FD int
	Op      string // what failed: "pidfd_open", "pidfd_getfd", "getsockopt", ...
	// Needs is what the reader lacks: "CAP_SYS_PTRACE", "Linux 5.6", ...;
	// empty when nothing would help (the socket is gone).
	Needs string
	Err   error
}

func (e *OptionsError) Error() string {
	s := fmt.Sprintf("pid %d fd %d: %s: %v", e.PID, e.FD, e.Op, e.Err)
	if e.Needs != "" {
		s += " (needs " + e.Needs + ")"
	}
	return s
}

func (e *OptionsError) Unwrap() error { return e.Err }
