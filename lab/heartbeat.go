package lab

import (
	"errors"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/liveness"
)

// FlatlineHeartbeat is flatline's socket settings plus the liveness layer:
// a heartbeat connection beside the data connection, both ends running a
// liveness.Monitor with the same Timeout.
const FlatlineHeartbeat ConfigName = "flatline+heartbeat"

// PeerPaused stops the server process (SIGSTOP) for less than the
// heartbeat's pause budget, then continues it (SIGCONT): a garbage
// collection or stop-the-world pause. Nothing with a pause budget may die
// from it, and a socket-only configuration cannot even see it.
const PeerPaused Fault = "peer-paused"

// socketConfig is the configuration whose socket settings c uses.
func (c ConfigName) socketConfig() ConfigName {
	if c == FlatlineHeartbeat {
		return Flatline
	}
	return c
}

// fits reports whether configuration c runs workload w: the heartbeat
// watches a link that is up, so not a dial, and a peer that keeps its
// window closed is the kernel's case.
func fits(c ConfigName, w Workload) bool {
	if c != FlatlineHeartbeat {
		return true
	}
	switch w {
	case Idle, Sending, Receiving, Replication:
		return true
	}
	return false
}

// pauseLength is how long PeerPaused stops the server at timeout t: 80 % of
// the heartbeat's pause budget.
func pauseLength(t time.Duration) time.Duration {
	p, err := liveness.Config{Timeout: t}.Plan()
	if err != nil {
		return t / 4
	}
	return p.PauseBudget * 8 / 10
}

// mustSurvive reports whether the cell's fault is one its connection must
// ride out: a blip shorter than a probe interval, or a peer paused within
// the budget, unless the peer keeps its window closed (then the
// closed-window rule applies whatever else happens).
func mustSurvive(cell Cell) bool {
	return (cell.Fault == Blip || cell.Fault == PeerPaused) && cell.Workload.State() != flatline.StateClosedWindow
}

// heartbeatQuick is the --quick subset's share of the heartbeat and the
// pause: the frozen peer for every workload the heartbeat runs, the pause
// for an idle connection of every configuration and for replication.
func heartbeatQuick(c Cell) (quick, decided bool) {
	switch {
	case c.Fault == PeerPaused:
		return c.Workload == Idle || c.Workload == Replication && (c.Config == FlatlineHeartbeat || c.Config == Flatline), true
	case c.Config == FlatlineHeartbeat:
		return c.Fault == PeerFrozen || c.Fault == Blackhole && c.Workload != Receiving || c.Fault == Blip && c.Workload == Idle, true
	}
	return false, false
}

// heartbeatCause names a liveness failure, which flatline.Diagnose cannot.
func heartbeatCause(err error) (string, bool) {
	var pe *liveness.PeerError
	if !errors.As(err, &pe) {
		return "", false
	}
	switch pe.Kind {
	case liveness.ErrUnresponsive:
		return "heartbeat-unresponsive", true
	case liveness.ErrNoProgress:
		return "heartbeat-no-progress", true
	}
	return "heartbeat-unreachable", true
}
