package diag

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Process is a pidfd of a running process, through which its sockets can
// be duplicated into the caller (pidfd_getfd, Linux 5.6, root or
// CAP_SYS_PTRACE over the process). A descriptor from Socket refers to the
// process's own socket: options set on it change the process's socket.
type Process struct {
	r   *optionReader
	pid int
	fd  int
}

// OpenProcess opens a pidfd of pid. Errors are *OptionsError values that
// say what is missing; a process that does not exist matches ErrGone.
func OpenProcess(pid int) (*Process, error) {
	r := newOptionReader()
	fd, err := r.pidfd(pid)
	if err != nil {
		return nil, err
	}
	return &Process{r: r, pid: pid, fd: fd}, nil
}

// Socket duplicates the process's descriptor fd and checks that it still
// is the socket with inode ino (the descriptor may have been closed and
// reused since it was listed; that matches ErrGone). The caller closes
// the returned descriptor with unix.Close.
func (p *Process) Socket(fd int, ino uint64) (int, error) {
	dup, err := unix.PidfdGetfd(p.fd, fd, 0)
	if err != nil {
		return -1, getfdError(p.pid, fd, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(dup, &st); err != nil {
		unix.Close(dup)
		return -1, &OptionsError{PID: p.pid, FD: fd, Op: "fstat", Err: os.NewSyscallError("fstat", err)}
	}
	if st.Ino != ino {
		unix.Close(dup)
		return -1, &OptionsError{PID: p.pid, FD: fd, Op: "pidfd_getfd",
			Err: fmt.Errorf("%w: fd %d now holds inode %d, not socket %d", ErrGone, fd, st.Ino, ino)}
	}
	return dup, nil
}

// Close closes the pidfd.
func (p *Process) Close() error {
	p.r.Close()
	return nil
}
