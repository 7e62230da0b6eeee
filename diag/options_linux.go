package diag

import (
	"errors"
	"fmt"
	"os"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
	"golang.org/x/sys/unix"
)

// optionReader reads socket options of other processes' sockets through
// pidfd_open and pidfd_getfd, one pidfd per process. Once open has opened
// the pidfds, read may be called from several goroutines.
type optionReader struct {
	pidfds map[int]pidfd
}

type pidfd struct {
	fd  int
	err error
}

func newOptionReader() *optionReader { return &optionReader{pidfds: make(map[int]pidfd)} }

func (r *optionReader) Close() {
	for _, p := range r.pidfds {
		if p.err == nil {
			unix.Close(p.fd)
		}
	}
}

// open opens a pidfd for each pid not opened yet; failures are kept and
// returned by read for that pid's sockets.
func (r *optionReader) open(pids ...int) {
	for _, pid := range pids {
		r.pidfd(pid)
	}
}

func (r *optionReader) pidfd(pid int) (int, error) {
	if p, ok := r.pidfds[pid]; ok {
		return p.fd, p.err
	}
	fd, err := unix.PidfdOpen(pid, 0)
	var p pidfd
	switch {
	case err == nil:
		p.fd = fd
	case errors.Is(err, unix.ENOSYS):
		p.err = &OptionsError{PID: pid, FD: -1, Op: "pidfd_open", Needs: "Linux 5.3",
			Err: &flatline.NotSupportedError{Feature: "pidfd_open", Needs: "Linux 5.3", GOOS: "linux"}}
	case errors.Is(err, unix.ESRCH):
		p.err = &OptionsError{PID: pid, FD: -1, Op: "pidfd_open", Err: fmt.Errorf("%w: %w", ErrGone, os.NewSyscallError("pidfd_open", err))}
	default:
		p.err = &OptionsError{PID: pid, FD: -1, Op: "pidfd_open", Err: os.NewSyscallError("pidfd_open", err)}
	}
	r.pidfds[pid] = p
	return p.fd, p.err
}

// read takes a duplicate of fd from pid, checks that it still is the
// socket with inode ino, reads its options with the kernel model's option table,
// and closes the duplicate.
func (r *optionReader) read(pid, fd int, ino uint64) (flatline.Settings, error) {
	p, ok := r.pidfds[pid]
	if !ok {
		return flatline.Settings{}, &OptionsError{PID: pid, FD: fd, Op: "pidfd_open", Err: errors.New("pidfd not opened")}
	}
	pfd, err := p.fd, p.err
	if err != nil {
		var oe *OptionsError
		if errors.As(err, &oe) {
			e := *oe
			e.FD = fd
			return flatline.Settings{}, &e
		}
		return flatline.Settings{}, err
	}
	dup, err := unix.PidfdGetfd(pfd, fd, 0)
	if err != nil {
		return flatline.Settings{}, getfdError(pid, fd, err)
	}
	defer unix.Close(dup)
	var st unix.Stat_t
	if err := unix.Fstat(dup, &st); err != nil {
		return flatline.Settings{}, &OptionsError{PID: pid, FD: fd, Op: "fstat", Err: os.NewSyscallError("fstat", err)}
	}
	if st.Ino != ino {
		return flatline.Settings{}, &OptionsError{PID: pid, FD: fd, Op: "pidfd_getfd",
			Err: fmt.Errorf("%w: fd %d now holds inode %d, not socket %d", ErrGone, fd, st.Ino, ino)}
	}
	s, err := flatline.ReadSettings(kernel.FD(dup))
	if err != nil {
		return flatline.Settings{}, &OptionsError{PID: pid, FD: fd, Op: "getsockopt", Err: err}
	}
	return s, nil
}

// getfdError says what a pidfd_getfd failure means for the reader: EPERM
// is a missing ptrace permission, ENOSYS a kernel before 5.6, EBADF and
// ESRCH a socket or process gone since the dump.
func getfdError(pid, fd int, err error) *OptionsError {
	oe := &OptionsError{PID: pid, FD: fd, Op: "pidfd_getfd", Err: os.NewSyscallError("pidfd_getfd", err)}
	switch {
	case errors.Is(err, unix.EPERM):
		oe.Needs = "CAP_SYS_PTRACE"
	case errors.Is(err, unix.ENOSYS):
		oe.Needs = "Linux 5.6"
		oe.Err = &flatline.NotSupportedError{Feature: "pidfd_getfd", Needs: "Linux 5.6", GOOS: "linux"}
	case errors.Is(err, unix.EBADF), errors.Is(err, unix.ESRCH):
		oe.Err = fmt.Errorf("%w: %w", ErrGone, oe.Err)
	}
	return oe
}
