package flatline

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// platformErrno reads a Winsock error as the errno it carries (see
// ErrnoCause).
func platformErrno(e syscall.Errno) syscall.Errno {
	switch e {
	case windows.WSAETIMEDOUT:
		return syscall.ETIMEDOUT
	case windows.WSAECONNRESET, windows.WSAECONNABORTED:
		return syscall.ECONNRESET
	case windows.WSAEHOSTUNREACH:
		return syscall.EHOSTUNREACH
	case windows.WSAENETUNREACH:
		return syscall.ENETUNREACH
	case windows.WSAECONNREFUSED:
		return syscall.ECONNREFUSED
	}
	return e
}
