package flatline

import (
	"net"
	"os"
	"syscall"

	"github.com/flatline-dev/flatline/internal/kernel"
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
	var info kernel.Conn
	var infoErr error
	if err := rc.Control(func(fd uintptr) {
		soErr, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		var ti *unix.TCPInfo
		if ti, infoErr = kernel.ReadTCPInfo(int(fd)); infoErr == nil {
			info = kernel.ConnOf(ti)
		}
	}); err != nil {
		return CauseLocalClose, nil
	}
	if soErr != 0 {
		err := os.NewSyscallError("read", syscall.Errno(soErr))
		return Diagnose(c, err), err
	}
	switch {
	case infoErr == nil && info.State == kernel.TCPClose:
		return classifyTimeout(info), nil
	case infoErr == nil && info.State == kernel.TCPCloseWait: // the peer sent FIN
		return CausePeerClosed, nil
	}
	return CauseLocalClose, nil
}
