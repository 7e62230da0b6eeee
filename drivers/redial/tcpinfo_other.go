//go:build !linux

package redial

import "net"

// retransmitting cannot read TCP_INFO here.
func retransmitting(*net.TCPConn) bool { return false }
