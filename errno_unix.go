//go:build !windows

package flatline

import "syscall"

var (
	timedOutErrnos    = []syscall.Errno{syscall.ETIMEDOUT}
	resetErrnos       = []syscall.Errno{syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED}
	unreachableErrnos = []syscall.Errno{syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN}
	refusedErrnos     = []syscall.Errno{syscall.ECONNREFUSED}
)
