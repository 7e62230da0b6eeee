package trace

import (
	"errors"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// exitWatch notices when a process exits, through a pidfd (Linux 5.3).
type exitWatch struct {
	pidfd  int
	wake   [2]int // a pipe: stop writes to it to end the wait
	exited atomic.Bool
	done   chan struct{}
}

// watchExit calls onExit once, from another goroutine, when pid exits.
// Without pidfd (before 5.3) it returns nil and no error: the trace then
// runs until stopped, as it did.
func watchExit(pid int, onExit func()) (*exitWatch, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ENOSYS) {
		return nil, nil
	}
	if err != nil {
		return nil, os.NewSyscallError("pidfd_open", err)
	}
	w := &exitWatch{pidfd: fd, done: make(chan struct{})}
	if err := unix.Pipe2(w.wake[:], unix.O_CLOEXEC); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("pipe2", err)
	}
	go func() {
		defer close(w.done)
		fds := []unix.PollFd{{Fd: int32(w.pidfd), Events: unix.POLLIN}, {Fd: int32(w.wake[0]), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err == nil && fds[0].Revents != 0 {
				w.exited.Store(true)
				onExit()
			}
			return
		}
	}()
	return w, nil
}

// stop ends the wait and closes the descriptors.
func (w *exitWatch) stop() {
	unix.Write(w.wake[1], []byte{0})
	<-w.done
	unix.Close(w.pidfd)
	unix.Close(w.wake[0])
	unix.Close(w.wake[1])
}
