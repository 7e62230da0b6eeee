package liveness

import (
	"net"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// kernelReachable tells a partition from a frozen peer by what the kernel
// saw on c: reachable when the peer's kernel acknowledged everything sent
// (tcp_info's unacked is zero) or acknowledged something within the last
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
	var kc kernel.Conn
	if rc.Control(func(fd uintptr) {
		ti, ierr := kernel.ReadTCPInfo(int(fd))
		if err = ierr; err == nil {
			kc = kernel.ConnOf(ti)
		}
	}) != nil || err != nil {
		return false, false
	}
	return kc.Unacked == 0 || kc.LastAckRecv < window, true
}
