package liveness

import (
	"errors"
	"fmt"
	"time"
)

// What a link failed of. Each *PeerError matches exactly one of them with
// errors.Is.
var (
	// ErrUnreachable: the peer's kernel is gone. The connection failed
	// (the kernel's own timeout, ETIMEDOUT with flatline's settings, a
	// reset, the peer's end closed), or the pings stayed unacknowledged
	// by the peer's kernel for the whole Deadline (a partition).
	ErrUnreachable = errors.New("peer unreachable")
	// ErrUnresponsive: the peer's kernel acknowledged the pings, but no
	// answer came from the peer process for the whole Deadline: it is
	// stopped, deadlocked, or paused longer than the pause budget.
	ErrUnresponsive = errors.New("peer unresponsive")
	// ErrNoProgress: the peer answers pings, but its work loop has not
	// called Beat for Config.Progress.
	ErrNoProgress = errors.New("peer made no progress")
	// ErrClosed is Monitor.Err after Close, when the peer had not failed
	// before.
	ErrClosed = errors.New("liveness: monitor closed")
)

// PeerError is why a link failed: Kind is ErrUnreachable, ErrUnresponsive
// or ErrNoProgress, Silent how long the peer had been silent (or without
// progress) when it was declared, and Err the connection's own error when
// there was one (a *net.OpError with ETIMEDOUT, io.EOF, ...). errors.Is sees
// both Kind and Err.
type PeerError struct {
	Kind   error
	Silent time.Duration
	Err    error
}

func (e *PeerError) Error() string {
	s := fmt.Sprintf("liveness: %v after %v of silence", e.Kind, e.Silent.Round(time.Millisecond))
	if e.Kind == ErrNoProgress {
		s = fmt.Sprintf("liveness: %v for %v", e.Kind, e.Silent.Round(time.Millisecond))
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Kind and, if set, Err.
func (e *PeerError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}
