//go:build !windows

package flatline

import "syscall"

// errnoCause maps the errors a dead peer or path produces to a cause;
// ETIMEDOUT is CauseKernelTimeout, refined by the caller.
func errnoCause(e syscall.Errno) Cause {
	switch e {
	case syscall.ETIMEDOUT:
		return CauseKernelTimeout
	case syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED:
		return CauseReset
	case syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN:
		return CauseUnreachable
	case syscall.ECONNREFUSED:
		return CauseRefused
	}
	return CauseUnknown
}
