package redial

import (
	"net"
	"time"

	"github.com/flatline-dev/flatline"
)

// lastHeard is when c last received anything from its peer
// (flatline.LastHeard); now − timeout where the platform cannot tell: a
// connection that died of a dead peer is then taken to have been silent
// for the whole timeout.
func lastHeard(c net.Conn, now time.Time, timeout time.Duration) time.Time {
	heard, err := flatline.LastHeard(c)
	if err != nil {
		return now.Add(-timeout)
	}
	return heard
}
