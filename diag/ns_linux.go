package diag

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsPath resolves Options.NetNS: a name under /var/run/netns or a path.
func nsPath(name string) string {
	if strings.ContainsRune(name, '/') {
		return name
	}
	return filepath.Join("/var/run/netns", name)
}

// sameNetNS reports whether the namespace at path is the calling thread's.
func sameNetNS(path string) (bool, error) {
	var there, here unix.Stat_t
	if err := unix.Stat(path, &there); err != nil {
		return false, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	if err := unix.Stat(self, &here); err != nil {
		return false, &os.PathError{Op: "stat", Path: self, Err: err}
	}
	return there.Dev == here.Dev && there.Ino == here.Ino, nil
}

// inNetNS runs fn on a locked OS thread switched into the network
// namespace at path, then switches the thread back. It runs on a goroutine
// of its own: if switching back fails, the thread stays locked and dies
// with that goroutine instead of returning to Go's pool in a foreign
// namespace.
func inNetNS(path string, fn func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("diag: open network namespace %s: %w", path, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("diag: open own network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("diag: enter network namespace %s: %w", path, os.NewSyscallError("setns", err))
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Stay locked: the thread exits with this goroutine.
			errc <- fmt.Errorf("diag: return from network namespace %s: %w", path, os.NewSyscallError("setns", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
