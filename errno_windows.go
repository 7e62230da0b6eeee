package flatline

import (
	"syscall"

	"golang.org/x/sys/windows"
)

var (
	timedOutErrnos    = []syscall.Errno{windows.WSAETIMEDOUT, syscall.ETIMEDOUT}
	resetErrnos       = []syscall.Errno{windows.WSAECONNRESET, windows.WSAECONNABORTED, syscall.ECONNRESET, syscall.EPIPE}
	unreachableErrnos = []syscall.Errno{windows.WSAEHOSTUNREACH, windows.WSAENETUNREACH, syscall.EHOSTUNREACH, syscall.ENETUNREACH}
	refusedErrnos     = []syscall.Errno{windows.WSAECONNREFUSED, syscall.ECONNREFUSED}
)
