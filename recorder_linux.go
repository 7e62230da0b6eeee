package flatline

import (
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// closeCause tells why a connection being closed ended: the kernel's
// pending error if it ended it and no Read or Write took the error, the
// counters it left if one took it elsewhere, the peer's FIN, or the
// application closing a live connection.
func closeCause(c *net.TCPConn) (Cause, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return CauseLocalClose, nil
	}
	var soErr int
	var state uint8
	var info connInfo
	var infoErr error
	if err := rc.Control(func(fd uintptr) {
		soErr, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		info, infoErr = readConnInfo(fd)
		if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			state = ti.State
		}
	}); err != nil {
		return CauseLocalClose, nil
	}
	if soErr != 0 {
		err := os.NewSyscallError("read", syscall.Errno(soErr))
		return Diagnose(c, err), err
	}
	switch {
	case infoErr == nil && info.closed:
		return classifyTimeout(info), nil
	case state == tcpCloseWait:
		return CausePeerClosed, nil
	}
	return CauseLocalClose, nil
}

// tcpCloseWait is TCP_CLOSE_WAIT in tcp_info's state: the peer sent FIN.
const tcpCloseWait = 8
