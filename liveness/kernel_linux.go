package liveness

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// kernelReachable tells a partition from a frozen peer by what the kernel
// saw on c: reachable when the peer's kernel acknowledged everything sent
// (TCP_INFO unacked is zero) or acknowledged something within the last
// window. known is false when c is not a kernel TCP socket (a stream of a
// multiplexer, a pipe) or TCP_INFO is unreadable.
func kernelReachable(c net.Conn, window time.Duration) (reachable, known bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false
	}
	var info *unix.TCPInfo
	if rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}) != nil || err != nil {
		return false, false
	}
	quiet := time.Duration(info.Last_ack_recv) * time.Millisecond
	return info.Unacked == 0 || quiet < window, true
}
