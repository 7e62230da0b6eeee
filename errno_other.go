//go:build !windows

package flatline

import "syscall"

// platformErrno is the identity where errors are errnos (see ErrnoCause).
func platformErrno(e syscall.Errno) syscall.Errno { return e }
