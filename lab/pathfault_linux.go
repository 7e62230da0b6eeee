package lab

import (
	"net"
	"time"

	"github.com/flatline-dev/flatline"
)

// expectOnPath redoes a latency cell's expectation once the connection
// has measured its path (srtt and RTO from TCP_INFO): the sending bound
// counts from a first retransmission that comes two round trips and an
// RTO after the send (flatline.Bound.On).
func expectOnPath(r *CellResult, cell Cell, t time.Duration, host flatline.Host, conn net.Conn) (never bool, deadline time.Duration) {
	state := cell.Workload.State()
	b, err := cell.Config.Bound(t, state, host)
	if err != nil || b.Never {
		r.Rule = b.Rule
		r.ExpectedS = nil
		return true, 0
	}
	if p, err := flatline.ReadPath(conn); err == nil {
		b = b.On(p)
	}
	r.ExpectedS = seconds(b.Worst)
	r.SlackS = b.Slack.Seconds()
	r.Rule = b.Rule
	d, _ := b.Deadline()
	if state == flatline.StateSending {
		d += period
	}
	return false, d
}
