package kernel

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// InNetNSSysfs runs fn with the sysfs of the network namespace at path
// mounted at a temporary directory, whose path fn gets: the
// /sys/class/net of that namespace's links (a sysfs shows the links of the
// namespace that mounted it). fn runs on an OS thread of its own that has
// entered the namespace and a mount namespace of its own; the thread is
// never handed back to Go's pool, so neither leaks.
func InNetNSSysfs(path string, fn func(sysfs string) error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		errc <- inNetNSSysfs(path, fn)
	}()
	return <-errc
}

func inNetNSSysfs(path string, fn func(sysfs string) error) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("kernel: sysfs of %s: %w", path, os.NewSyscallError("unshare", err))
	}
	// Nothing mounted here reaches the host's mount namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("kernel: sysfs of %s: %w", path, os.NewSyscallError("mount", err))
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("kernel: open network namespace %s: %w", path, os.NewSyscallError("open", err))
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("kernel: enter network namespace %s: %w", path, os.NewSyscallError("setns", err))
	}
	dir, err := os.MkdirTemp("", "flatline-sysfs-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := unix.Mount("sysfs", dir, "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("kernel: mount sysfs of %s: %w", path, os.NewSyscallError("mount", err))
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	return fn(dir)
}
