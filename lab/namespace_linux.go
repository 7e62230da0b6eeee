package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// threadNetns is the calling thread's network namespace.
const threadNetns = "/proc/thread-self/ns/net"

// Do runs fn on a fresh OS thread that has entered n, and returns fn's
// error. Sockets created in fn belong to n and may be used from any
// goroutine afterwards; processes started in fn (exec.Cmd.Start) run in n.
// If the thread cannot return to its original namespace it is not reused:
// it ends with its goroutine.
func (n *Namespace) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread unless the thread is back where it started.
		errc <- n.do(fn)
	}()
	return <-errc
}

func (n *Namespace) do(fn func() error) error {
	orig, err := os.Open(threadNetns)
	if err != nil {
		return fmt.Errorf("lab: open own network namespace: %w", err)
	}
	defer orig.Close()
	target, err := os.Open(n.Path)
	if err != nil {
		return fmt.Errorf("lab: open namespace %s: %w", n.Name, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("lab: enter namespace %s: %w", n.Name, os.NewSyscallError("setns", err))
	}
	fnErr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and dies with its goroutine.
		return errors.Join(fnErr, fmt.Errorf("lab: leave namespace %s: %w", n.Name, os.NewSyscallError("setns", err)))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// Fd opens the namespace and returns a file descriptor referring to it, for
// netlink.NewHandleAt or nftables.WithNetNSFd. The caller closes it with
// unix.Close.
func (n *Namespace) Fd() (int, error) {
	fd, err := unix.Open(n.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("lab: open namespace %s: %w", n.Name, os.NewSyscallError("open", err))
	}
	return fd, nil
}

// newNamespace makes an empty network namespace bind-mounted at
// NetnsDir/name. The namespace is created on a locked thread that returns
// to its own namespace before it is released.
func newNamespace(name string) (*Namespace, error) {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: create %s: %w", NetnsDir, err)
	}
	n := &Namespace{Name: name, Path: filepath.Join(NetnsDir, name)}
	f, err := os.OpenFile(n.Path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return nil, fmt.Errorf("lab: create namespace %s: %w", name, err)
	}
	f.Close()

	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- n.create()
	}()
	if err := <-errc; err != nil {
		_ = removeNamespace(n.Path)
		return nil, err
	}
	return n, nil
}

// create runs on a locked thread: unshare, bind-mount, return.
func (n *Namespace) create() error {
	orig, err := os.Open(threadNetns)
	if err != nil {
		return fmt.Errorf("lab: open own network namespace: %w", err)
	}
	defer orig.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread() // unshare failed: still in the original namespace
		if errors.Is(err, unix.EPERM) {
			return &UnsupportedError{Feature: "root (CAP_SYS_ADMIN) to create network namespaces", Err: os.NewSyscallError("unshare", err)}
		}
		return fmt.Errorf("lab: create namespace %s: %w", n.Name, os.NewSyscallError("unshare", err))
	}
	mountErr := unix.Mount(threadNetns, n.Path, "none", unix.MS_BIND, "")
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("lab: return from namespace %s: %w", n.Name, os.NewSyscallError("setns", err))
	}
	runtime.UnlockOSThread()
	if mountErr != nil {
		return fmt.Errorf("lab: bind-mount namespace %s: %w", n.Name, os.NewSyscallError("mount", mountErr))
	}
	return nil
}

// removeNamespace unmounts and removes a namespace file. The namespace
// itself, with its links and nftables tables, goes away when the last
// process and file descriptor using it are gone. A missing file is not an
// error.
func removeNamespace(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("lab: unmount %s: %w", path, os.NewSyscallError("umount2", err))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lab: remove %s: %w", path, err)
	}
	return nil
}

// Sweep removes lab namespaces (names starting with Prefix) whose creating
// process no longer exists, and returns the names it removed. Namespaces of
// live processes, including other lab runs in parallel, are left alone.
func Sweep() ([]string, error) {
	entries, err := os.ReadDir(NetnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lab: sweep: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		pid, ok := nsOwner(e.Name())
		if !ok || alive(pid) {
			continue
		}
		if err := removeNamespace(filepath.Join(NetnsDir, e.Name())); err != nil {
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
