package redial

import (
	"net"

	"golang.org/x/sys/unix"
)

func tcpInfo(c *net.TCPConn) *unix.TCPInfo {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	var info *unix.TCPInfo
	rc.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if err != nil {
		return nil
	}
	return info
}

// retransmitting reports whether c has sent data that is unacknowledged
// and has been retransmitted by timeout at least once: its peer stopped
// acknowledging.
func retransmitting(c *net.TCPConn) bool {
	info := tcpInfo(c)
	return info != nil && info.Unacked > 0 && (info.Retransmits > 0 || info.Backoff > 0)
}
