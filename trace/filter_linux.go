//go:build linux

package trace

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// filter keeps the events Options select.
type filter struct {
	pid    int
	netns  uint32 // 0: any
	cgroup *cgroupFilter
}

func newFilter(o Options) (*filter, error) {
	if o.PID < 0 {
		return nil, fmt.Errorf("trace: pid %d: must be positive", o.PID)
	}
	f := &filter{pid: o.PID}
	if o.PID != 0 {
		if err := unix.Kill(o.PID, 0); errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("trace: pid %d: no such process", o.PID)
		}
	}
	if o.NetNS != "" && o.NetNSPath != "" {
		return nil, errors.New("trace: give a network namespace by name or by path, not both")
	}
	path := o.NetNSPath
	if o.NetNS != "" {
		if strings.ContainsRune(o.NetNS, '/') {
			return nil, fmt.Errorf("trace: network namespace %q: a name from %s, without '/' (or give NetNSPath)", o.NetNS, kernel.NetNSDir)
		}
		p, err := kernel.NetNSPath(o.NetNS)
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		path = p
	}
	if path != "" {
		ino, err := netnsInode(path)
		if err != nil {
			return nil, fmt.Errorf("trace: network namespace %s: %w", path, err)
		}
		f.netns = uint32(ino)
	}
	if o.Cgroup != "" {
		c, err := newCgroupFilter(o.Cgroup)
		if err != nil {
			return nil, err
		}
		f.cgroup = c
	}
	return f, nil
}

// close releases what the filter holds open.
func (f *filter) close() {
	if f.cgroup != nil {
		f.cgroup.close()
	}
}

// errNotNetNS says what a network namespace must be.
var errNotNetNS = errors.New("not a network namespace: give a name under /run/netns, or /proc/PID/ns/net")

// netnsInode returns the inode of the network namespace at path, after
// checking that path is one (a namespace file of nsfs whose type is
// CLONE_NEWNET), not some other file.
func netnsInode(path string) (uint64, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return 0, os.NewSyscallError("fstatfs", err)
	}
	if fs.Type != unix.NSFS_MAGIC {
		return 0, errNotNetNS
	}
	typ, err := unix.IoctlRetInt(fd, nsGetNSType)
	if err != nil {
		return 0, os.NewSyscallError("ioctl NS_GET_NSTYPE", err)
	}
	if typ != unix.CLONE_NEWNET {
		return 0, errNotNetNS
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, os.NewSyscallError("fstat", err)
	}
	return st.Ino, nil
}

// nsGetNSType is NS_GET_NSTYPE, _IO(0xb7, 0x3) (Linux 4.11).
const nsGetNSType = 0xb703

func inode(path string) (uint64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("no inode for %s", path)
	}
	return uint64(sys.Ino), nil
}

// keepBefore is keep for what is known before the owner is looked up in
// /proc: the namespace, the socket's cgroup, an owner already known.
func (f *filter) keepBefore(e Event) bool {
	if f.pid != 0 && e.PID != 0 && e.PID != f.pid {
		return false
	}
	if f.netns != 0 && e.NetNS != f.netns {
		return false
	}
	if f.cgroup != nil && e.Cgroup != 0 {
		return f.cgroup.contains(e.Cgroup)
	}
	return true
}

func (f *filter) keep(e Event) bool {
	if f.pid != 0 && e.PID != f.pid {
		return false
	}
	if f.netns != 0 && e.NetNS != f.netns {
		return false
	}
	if f.cgroup != nil {
		return e.Cgroup != 0 && f.cgroup.contains(e.Cgroup)
	}
	return true
}

// holders finds the process holding a socket in /proc, for sockets that
// existed before the tracer (their owner was not seen alive): the kernel
// ended the connection, but the application has not closed it yet. A walk
// of a namespace's processes is kept for the deaths that follow it (a
// partition ends many connections at once), and made again on a miss at
// most every holdersRefresh.
type holders struct {
	walks map[uint32]holdersWalk // by network namespace inode
}

type holdersWalk struct {
	at      time.Time
	byInode map[uint64]holder
}

type holder struct {
	pid  int
	comm string
}

// holdersRefresh bounds how often a namespace's processes are walked.
const holdersRefresh = 100 * time.Millisecond

// lookup returns the holder of socket inode ino in namespace netns (0:
// any); with pid non-zero only that process is looked at.
func (h *holders) lookup(ino uint64, netns uint32, pid int) (int, string) {
	if pid != 0 {
		w := walkHolders([]string{strconv.Itoa(pid)}, 0)
		hd := w[ino]
		return hd.pid, hd.comm
	}
	if h.walks == nil {
		h.walks = make(map[uint32]holdersWalk)
	}
	w, ok := h.walks[netns]
	if hd, found := w.byInode[ino]; found {
		return hd.pid, hd.comm
	}
	if ok && time.Since(w.at) < holdersRefresh {
		return 0, ""
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, ""
	}
	names := make([]string, 0, len(procs))
	for _, p := range procs {
		names = append(names, p.Name())
	}
	w = holdersWalk{at: time.Now(), byInode: walkHolders(names, netns)}
	h.walks[netns] = w
	hd := w.byInode[ino]
	return hd.pid, hd.comm
}

// walkHolders maps the socket inodes the processes named hold (those in
// namespace netns, or all for 0) to them.
func walkHolders(pids []string, netns uint32) map[uint64]holder {
	out := make(map[uint64]holder)
	for _, name := range pids {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		dir := "/proc/" + name
		if netns != 0 {
			if ns, err := inode(dir + "/ns/net"); err != nil || uint32(ns) != netns {
				continue
			}
		}
		fds, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue
		}
		var comm string
		for _, fd := range fds {
			l, err := os.Readlink(dir + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(l, "socket:[") || !strings.HasSuffix(l, "]") {
				continue
			}
			ino, err := strconv.ParseUint(l[len("socket:["):len(l)-1], 10, 64)
			if err != nil {
				continue
			}
			if _, seen := out[ino]; seen {
				continue
			}
			if comm == "" {
				b, _ := os.ReadFile(dir + "/comm")
				comm = strings.TrimSpace(string(b))
			}
			out[ino] = holder{pid, comm}
		}
	}
	return out
}
