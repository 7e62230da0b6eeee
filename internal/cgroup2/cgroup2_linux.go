package cgroup2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoCgroup2 is returned when no cgroup2 file system is mounted.
var ErrNoCgroup2 = errors.New("no cgroup2 file system is mounted")

// Mount returns where the cgroup2 file system is mounted, from
// /proc/self/mountinfo.
func Mount() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	m, ok := ParseMountinfo(b)
	if !ok {
		return "", ErrNoCgroup2
	}
	return m, nil
}

// Group is a cgroup this package made.
type Group struct {
	Path string
}

// New makes the cgroup Prefix+"<pid>-"+name at the root of the cgroup2
// mount. Remove it with Remove.
func New(name string) (*Group, error) {
	m, err := Mount()
	if err != nil {
		return nil, err
	}
	p := filepath.Join(m, Prefix+strconv.Itoa(os.Getpid())+"-"+name)
	if err := os.Mkdir(p, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup2: %w", err)
	}
	// The mark Sweep looks for: another tool's flt-* cgroup has none. A
	// trusted.* attribute needs CAP_SYS_ADMIN to set, as the cgroup did.
	if err := mark(p); err != nil {
		unix.Rmdir(p)
		return nil, err
	}
	return &Group{Path: p}, nil
}

// mark sets the attribute Sweep looks for on the cgroup at p.
func mark(p string) error {
	if err := unix.Setxattr(p, markAttr, []byte(markValue), 0); err != nil {
		return fmt.Errorf("cgroup2: mark %s as flatline's: %w", p, os.NewSyscallError("setxattr", err))
	}
	return nil
}

// The extended attribute that marks a cgroup as made by this package.
const (
	markAttr  = "trusted.flatline"
	markValue = "made-by-flatline"
)

// marked reports whether the cgroup at p carries New's mark.
func marked(p string) bool {
	b := make([]byte, len(markValue)+1)
	n, err := unix.Getxattr(p, markAttr, b)
	return err == nil && string(b[:n]) == markValue
}

// Open returns a descriptor of the cgroup's directory, for
// syscall.SysProcAttr.CgroupFD (clone into the cgroup). The caller closes it.
func (g *Group) Open() (*os.File, error) {
	return os.Open(g.Path)
}

// SysProcAttr returns attributes that start a command inside the cgroup,
// with the directory descriptor it uses; close the file after Start.
func (g *Group) SysProcAttr() (*syscall.SysProcAttr, *os.File, error) {
	f, err := g.Open()
	if err != nil {
		return nil, nil, err
	}
	return &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}, f, nil
}

// Remove kills what still runs in the cgroup and removes it. An exited
// process leaves its cgroup a moment after wait returns, so rmdir is
// retried on EBUSY for up to five seconds.
func (g *Group) Remove() error {
	os.WriteFile(filepath.Join(g.Path, "cgroup.kill"), []byte("1"), 0) // Linux 5.14; best effort
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := unix.Rmdir(g.Path)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("cgroup2: remove %s: %w", g.Path, os.NewSyscallError("rmdir", err))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Sweep removes the cgroups at the root of the mount that this package made
// in processes that no longer run, and returns their paths.
func Sweep() ([]string, error) {
	m, err := Mount()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(m)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), Prefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || unix.Kill(pid, 0) == nil || !errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
			continue
		}
		g := &Group{Path: filepath.Join(m, e.Name())}
		if !marked(g.Path) {
			continue // another tool's: same prefix, no mark
		}
		if g.Remove() == nil {
			removed = append(removed, g.Path)
		}
	}
	return removed, nil
}

// fileidKernfs is FILEID_KERNFS: a file handle of kernfs (cgroup v2) is
// the 64-bit id of the node.
const fileidKernfs = 0xfe

// OpenByID opens (O_PATH) the directory of the cgroup whose id is id (the
// inode of its directory, what BPF's cgroup ids are), on the cgroup2 mount
// of mountFD, a descriptor of any directory on it: the kernel answers,
// with no walk of the tree (open_by_handle_at, as systemd does; root, or
// CAP_DAC_READ_SEARCH). A cgroup removed since fails with ESTALE (or
// ENOENT). The caller closes the descriptor.
func OpenByID(mountFD int, id uint64) (int, error) {
	h := make([]byte, 8)
	binary.NativeEndian.PutUint64(h, id)
	fd, err := unix.OpenByHandleAt(mountFD, unix.NewFileHandle(fileidKernfs, h), unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("open_by_handle_at", err)
	}
	return fd, nil
}
