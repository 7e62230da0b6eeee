package diag

import (
	"fmt"
	"net/netip"
	"time"
)

// WatchOptions says how often Watch polls and for how long.
type WatchOptions struct {
	// Interval between polls; zero means 100 ms.
	Interval time.Duration
	// Polls stops after that many polls; zero means until the context ends.
	Polls int
}

// Transition is a change of one socket between two polls: its timer kind
// or TCP state changed, or it appeared or went away.
type Transition struct {
	Time     time.Time
	Cookie   uint64
	Local    netip.AddrPort
	Remote   netip.AddrPort
	FromTCP  TCPState
	ToTCP    TCPState
	From, To Timer
	// Appeared is set for a socket not seen in the previous poll (From is
	// then TimerOff); Gone for one no longer there (To is TimerOff).
	Appeared, Gone bool
	Expires        time.Duration // until the new timer fires
	Retransmits    int
	Probes         int
	Unacked        uint32
}

// String formats the transition on one line for people.
func (t Transition) String() string {
	ts := t.Time.Format("15:04:05.000")
	conn := fmt.Sprintf("%v → %v", t.Local, t.Remote)
	switch {
	case t.Appeared:
		return fmt.Sprintf("%s  %s  appeared %s timer %s%s", ts, conn, t.ToTCP, t.To, t.detail())
	case t.Gone:
		return fmt.Sprintf("%s  %s  gone (was %s, timer %s)", ts, conn, t.FromTCP, t.From)
	}
	state := t.ToTCP.String()
	if t.FromTCP != t.ToTCP {
		state = fmt.Sprintf("%s → %s", t.FromTCP, t.ToTCP)
	}
	return fmt.Sprintf("%s  %s  %s  %s → %s%s", ts, conn, state, t.From, t.To, t.detail())
}

func (t Transition) detail() string {
	s := fmt.Sprintf("  (retrans %d, probes %d, unacked %d", t.Retransmits, t.Probes, t.Unacked)
	if t.To != TimerOff {
		s += ", fires in " + t.Expires.String()
	}
	return s + ")"
}

// watchState is what one poll saw of one socket.
type watchState struct {
	local, remote netip.AddrPort
	state         TCPState
	timer         Timer
}

// diffPoll compares one poll with the previous one (keyed by socket
// cookie), returns the transitions, and the new previous poll. It is pure.
func diffPoll(prev map[uint64]watchState, cur []DiagMsg, now time.Time) ([]Transition, map[uint64]watchState) {
	next := make(map[uint64]watchState, len(cur))
	var out []Transition
	for _, m := range cur {
		ws := watchState{local: m.Local, remote: m.Remote, state: m.State, timer: m.Timer}
		next[m.Cookie] = ws
		t := Transition{
			Time: now, Cookie: m.Cookie, Local: m.Local, Remote: m.Remote,
			ToTCP: m.State, To: m.Timer, Expires: time.Duration(m.Expires) * time.Millisecond,
		}
		s := Socket{DiagMsg: m}
		t.Retransmits, t.Probes, t.Unacked = s.Retransmits(), s.Probes(), s.Unacked()
		old, seen := prev[m.Cookie]
		switch {
		case !seen:
			t.Appeared, t.FromTCP = true, m.State
		case old.timer == m.Timer && old.state == m.State:
			continue
		default:
			t.FromTCP, t.From = old.state, old.timer
		}
		out = append(out, t)
	}
	for c, old := range prev {
		if _, ok := next[c]; !ok {
			out = append(out, Transition{
				Time: now, Cookie: c, Local: old.local, Remote: old.remote,
				FromTCP: old.state, ToTCP: old.state, From: old.timer, Gone: true,
			})
		}
	}
	return out, next
}
