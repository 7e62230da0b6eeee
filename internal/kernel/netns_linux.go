package kernel

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// threadNetns is the calling thread's network namespace.
const threadNetns = "/proc/thread-self/ns/net"

// InNetNS runs fn on a fresh OS thread that has entered the network
// namespace at path (a bind mount under /run/netns, or
// /proc/PID/ns/net), and returns fn's error. It is the one place flatline
// switches a thread's namespace.
//
// What fn does on its own thread happens in the namespace: sockets it
// creates belong there and may be used from any goroutine afterwards;
// processes it starts (exec.Cmd.Start) run there; netlink sockets it opens
// talk to that namespace. Goroutines fn starts do NOT inherit the
// namespace: Go may run them on any thread. fn must not call
// runtime.UnlockOSThread.
//
// If the thread cannot return to its original namespace it is never
// handed back to Go's pool: it stays locked and ends with its goroutine.
func InNetNS(path string, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("kernel: open network namespace %s: %w", path, err)
	}
	defer target.Close()
	return InNetNSFd(int(target.Fd()), path, fn)
}

// InNetNSFd is InNetNS for a namespace already open as fd; name is only
// for error messages.
func InNetNSFd(fd int, name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread unless the thread is back where it started.
		returned := false
		defer func() {
			if !returned {
				// fn ended the goroutine (runtime.Goexit, as t.Fatal and
				// t.Skip do): the thread, still locked, ends with it.
				errc <- fmt.Errorf("kernel: the function run in network namespace %s ended its goroutine (runtime.Goexit: t.Fatal, t.FailNow or t.Skip belong outside InNetNS)", name)
			}
		}()
		err := inNetNS(fd, name, fn)
		returned = true
		errc <- err
	}()
	return <-errc
}

func inNetNS(fd int, name string, fn func() error) error {
	orig, err := os.Open(threadNetns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("kernel: open own network namespace: %w", err)
	}
	defer orig.Close()
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread() // still where it started
		err = os.NewSyscallError("setns", err)
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("kernel: enter network namespace %s: %w (needs CAP_SYS_ADMIN)", name, err)
		}
		return fmt.Errorf("kernel: enter network namespace %s: %w", name, err)
	}
	fnErr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and dies with its goroutine.
		return errors.Join(fnErr, fmt.Errorf("kernel: leave network namespace %s: %w", name, os.NewSyscallError("setns", err)))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// SameNetNS reports whether the namespace at path is the calling thread's.
func SameNetNS(path string) (bool, error) {
	var there, here unix.Stat_t
	if err := unix.Stat(path, &there); err != nil {
		return false, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if err := unix.Stat(threadNetns, &here); err != nil {
		return false, &os.PathError{Op: "stat", Path: threadNetns, Err: err}
	}
	return there.Dev == here.Dev && there.Ino == here.Ino, nil
}

// NewNetNS makes an empty network namespace bind-mounted at path (as
// `ip netns add` does under /run/netns), so that it outlives the thread
// that made it. The thread returns to its own namespace before it is
// released. The error matches unix.EPERM without CAP_SYS_ADMIN.
func NewNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("kernel: create network namespace %s: %w", path, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- newNetNS(path)
	}()
	if err := <-errc; err != nil {
		_ = RemoveNetNS(path)
		return err
	}
	if err := markNetNS(path); err != nil {
		_ = RemoveNetNS(path)
		return err
	}
	return nil
}

// NetNSMarkDir holds a file for each namespace NewNetNS made, named after
// its path and holding its inode: SweepNetNS removes only namespaces
// marked there, so that another tool's namespaces with the same name
// prefix are never touched.
const NetNSMarkDir = "/run/flatline/netns"

func markPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return filepath.Join(NetNSMarkDir, url.PathEscape(abs))
}

// markNetNS records that the namespace at path is flatline's.
func markNetNS(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("kernel: mark network namespace %s: %w", path, os.NewSyscallError("stat", err))
	}
	if err := os.MkdirAll(NetNSMarkDir, 0o700); err != nil {
		return fmt.Errorf("kernel: mark network namespace %s: %w", path, err)
	}
	if err := os.WriteFile(markPath(path), []byte(strconv.FormatUint(st.Ino, 10)), 0o600); err != nil {
		return fmt.Errorf("kernel: mark network namespace %s: %w", path, err)
	}
	return nil
}

// markedNetNS reports whether the namespace at path is the one NewNetNS
// made and marked (same inode).
func markedNetNS(path string) bool {
	b, err := os.ReadFile(markPath(path))
	if err != nil {
		return false
	}
	var st unix.Stat_t
	return unix.Stat(path, &st) == nil && string(b) == strconv.FormatUint(st.Ino, 10)
}

// newNetNS runs on a locked thread: unshare, bind-mount, return.
func newNetNS(path string) error {
	orig, err := os.Open(threadNetns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("kernel: open own network namespace: %w", err)
	}
	defer orig.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread() // unshare failed: still in the original namespace
		return fmt.Errorf("kernel: create network namespace %s: %w", path, os.NewSyscallError("unshare", err))
	}
	mountErr := unix.Mount(threadNetns, path, "none", unix.MS_BIND, "")
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and dies with its goroutine.
		return fmt.Errorf("kernel: return from network namespace %s: %w", path, os.NewSyscallError("setns", err))
	}
	runtime.UnlockOSThread()
	if mountErr != nil {
		return fmt.Errorf("kernel: bind-mount network namespace %s: %w", path, os.NewSyscallError("mount", mountErr))
	}
	return nil
}

// RemoveNetNS unmounts and removes a namespace made by NewNetNS. The
// namespace itself, with its links and nftables tables, goes away when
// the last process and file descriptor using it are gone. A missing file
// is not an error.
func RemoveNetNS(path string) error {
	os.Remove(markPath(path))
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("kernel: unmount %s: %w", path, os.NewSyscallError("umount2", err))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("kernel: remove %s: %w", path, err)
	}
	return nil
}

// SweepNetNS removes the namespaces under dir named prefix+"<pid>-..."
// whose creating process no longer exists, and returns the names it
// removed. Namespaces of live processes, other runs in parallel included,
// are left alone.
func SweepNetNS(dir, prefix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kernel: sweep %s: %w", dir, err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		pid, ok := NetNSOwner(e.Name(), prefix)
		if !ok || alive(pid) || !markedNetNS(filepath.Join(dir, e.Name())) {
			continue // not a dead run's, or another tool's: no mark
		}
		if err := RemoveNetNS(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}

// alive reports whether a process with this PID exists.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
