//go:build !linux

package liveness

import (
	"net"
	"time"
)

// kernelReachable cannot read what the kernel saw outside Linux: a silent
// peer is reported as unresponsive.
func kernelReachable(net.Conn, time.Duration) (reachable, known bool) { return false, false }
