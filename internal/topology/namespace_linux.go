package topology

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flatline-dev/flatline/internal/kernel"
	"golang.org/x/sys/unix"
)

// threadNetns is the calling thread's network namespace.
const threadNetns = "/proc/thread-self/ns/net"

// Do runs fn on a fresh OS thread that has entered n (kernel.InNetNS),
// and returns fn's error. Sockets created in fn belong to n and may be
// used from any goroutine afterwards; processes started in fn
// (exec.Cmd.Start) run in n; goroutines fn starts do not inherit n. If the
// thread cannot return to its original namespace it is not reused: it
// ends with its goroutine.
func (n *Namespace) Do(fn func() error) error { return kernel.InNetNS(n.Path, fn) }

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
// NetnsDir/name (kernel.NewNetNS).
func newNamespace(name string) (*Namespace, error) {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: create %s: %w", NetnsDir, err)
	}
	n := &Namespace{Name: name, Path: filepath.Join(NetnsDir, name)}
	if err := kernel.NewNetNS(n.Path); err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, &UnsupportedError{Feature: "root (CAP_SYS_ADMIN) to create network namespaces", Err: err}
		}
		return nil, fmt.Errorf("lab: %w", err)
	}
	return n, nil
}

// removeNamespace unmounts and removes a namespace file.
func removeNamespace(path string) error { return kernel.RemoveNetNS(path) }

// Sweep removes lab namespaces (names starting with Prefix) whose creating
// process no longer exists, and returns the names it removed. Namespaces of
// live processes, including other lab runs in parallel, are left alone.
func Sweep() ([]string, error) { return kernel.SweepNetNS(NetnsDir, Prefix) }
