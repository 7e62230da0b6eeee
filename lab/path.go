package lab

import "time"

// Path faults: a middlebox on the path, or a path that is slow, lossy,
// narrow or drops large segments. Unlike the faults of Topology.Apply they
// are in place before the connection is made (a middlebox tracks a flow
// from its SYN; a path's delay is measured by the handshake).
const (
	// MiddleboxExpiry makes the router a stateful middlebox (connection
	// tracking) that forgets a flow idle for MiddleboxTimeout and drops
	// the packets of flows it does not know, as cloud load balancers and
	// NAT gateways do (AWS NLB 350 s, Azure LB 4 min, GCP Cloud NAT
	// 1200 s). The connection stays idle for twice that, then sends a
	// request: it survives if the request is acknowledged.
	MiddleboxExpiry Fault = "middlebox-expiry"
)

// MiddleboxTimeout is how long the lab's middlebox remembers an idle flow:
// shorter than Go's default keepalive idle (15 s), as a 350 s load
// balancer is shorter than Linux's default (2 h), and longer than the
// keepalive idle of every other configuration at the lab's T = 3 s.
const MiddleboxTimeout = 10 * time.Second

// middleboxSoak is how long a middlebox cell stays idle before its
// request, and middleboxAnswer how long the request may wait for its
// acknowledgement: a few retransmissions on a short path.
const (
	middleboxSoak   = 2 * MiddleboxTimeout
	middleboxAnswer = 3 * time.Second
)

// Lost is the verdict of a cell whose healthy connection a path fault
// took away: the middlebox forgot it, or it was killed although the peer
// was alive.
const Lost = "lost"

// survivalFault reports whether under fault f the peer stays alive, so
// that the cell asks whether the connection survives rather than how soon
// a dead peer is noticed.
func survivalFault(f Fault) bool {
	switch f {
	case Blip, PeerFrozen, MiddleboxExpiry:
		return true
	}
	return false
}
