package redial

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lastHeard is when c last received anything from its peer (TCP_INFO's
// last data or ACK received), as seen at now; now − timeout when
// unreadable.
func lastHeard(c net.Conn, now time.Time, timeout time.Duration) time.Time {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return now.Add(-timeout)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return now.Add(-timeout)
	}
	var info *unix.TCPInfo
	rc.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if err != nil || info == nil {
		return now.Add(-timeout)
	}
	quiet := time.Duration(min(info.Last_data_recv, info.Last_ack_recv)) * time.Millisecond
	return now.Add(-quiet)
}
