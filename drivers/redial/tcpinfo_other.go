//go:build !linux

package redial

import (
	"net"
	"time"
)

// lastHeard cannot read TCP_INFO here: a connection that died of a dead
// peer is taken to have been silent for the whole timeout.
func lastHeard(_ *net.TCPConn, now time.Time, timeout time.Duration) time.Time {
	return now.Add(-timeout)
}

// retransmitting cannot read TCP_INFO here.
func retransmitting(*net.TCPConn) bool { return false }
