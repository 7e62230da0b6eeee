package flatline

import (
	"fmt"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// Path is what a connection measured of its path, as TCP_INFO reports it
// once the handshake is done: the smoothed round-trip time and the
// retransmission timeout (srtt + 4·rttvar, at least 200 ms).
type Path struct {
	SRTT time.Duration
	RTO  time.Duration
}

// FirstRetransmissionOn is how long after a path goes silent the kernel
// first retransmits by timeout on path p (acknowledgements still arriving
// for a round trip, a tail-loss probe after 2·srtt, one RTO).
// TCP_USER_TIMEOUT counts from there. It is never below
// FirstRetransmission, the short-path figure.
func FirstRetransmissionOn(p Path) time.Duration {
	return kernel.FirstRetransmissionOn(p.SRTT, p.RTO)
}

// On returns b for a connection on path p: the bounds that count from the
// first retransmission by timeout (sending and closed window with a user
// timeout) move by what the path's round trips add to it. Other bounds
// are returned as they are.
func (b Bound) On(p Path) Bound {
	if b.Never || (b.State != StateSending && b.State != StateClosedWindow) {
		return b
	}
	extra := FirstRetransmissionOn(p) - FirstRetransmission
	if extra <= 0 {
		return b
	}
	b.Worst += extra
	b.Rule += fmt.Sprintf("; on this path (srtt %v, RTO %v) the first retransmission comes %v after the send, not %v",
		p.SRTT.Round(time.Millisecond), p.RTO.Round(time.Millisecond), FirstRetransmissionOn(p).Round(time.Millisecond), FirstRetransmission)
	return b
}

// On returns the plan's bounds for a connection on path p (see Bound.On):
// on a long path a busy connection's death comes later than the
// short-path plan says, by two round trips and an RTO.
func (p Plan) On(path Path) Plan {
	out := p
	out.Bounds = make([]Bound, len(p.Bounds))
	for i, b := range p.Bounds {
		out.Bounds[i] = b.On(path)
	}
	return out
}
