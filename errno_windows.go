package flatline

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// errnoCause maps the errors a dead peer or path produces to a cause;
// a timeout is CauseKernelTimeout, refined by the caller.
func errnoCause(e syscall.Errno) Cause {
	switch e {
	case windows.WSAETIMEDOUT, syscall.ETIMEDOUT:
		return CauseKernelTimeout
	case windows.WSAECONNRESET, windows.WSAECONNABORTED, syscall.ECONNRESET, syscall.EPIPE:
		return CauseReset
	case windows.WSAEHOSTUNREACH, windows.WSAENETUNREACH, syscall.EHOSTUNREACH, syscall.ENETUNREACH:
		return CauseUnreachable
	case windows.WSAECONNREFUSED, syscall.ECONNREFUSED:
		return CauseRefused
	}
	return CauseUnknown
}
