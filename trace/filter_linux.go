//go:build linux

package trace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// filter keeps the events Options select.
type filter struct {
	pid    int
	netns  uint32 // 0: any
	cgroup string

	mu      sync.Mutex
	cgroups map[uint64]bool // cgroup ids under cgroup, walked on a miss
}

func newFilter(o Options) (*filter, error) {
	if o.PID < 0 {
		return nil, fmt.Errorf("trace: pid %d: must be positive", o.PID)
	}
	f := &filter{pid: o.PID}
	if o.NetNS != "" && o.NetNSPath != "" {
		return nil, errors.New("trace: give a network namespace by name or by path, not both")
	}
	path := o.NetNSPath
	if o.NetNS != "" {
		if strings.ContainsRune(o.NetNS, '/') {
			return nil, fmt.Errorf("trace: network namespace %q: a name from /run/netns, without '/'", o.NetNS)
		}
		path = "/run/netns/" + o.NetNS
	}
	if path != "" {
		ino, err := inode(path)
		if err != nil {
			return nil, fmt.Errorf("trace: network namespace %s: %w", path, err)
		}
		f.netns = uint32(ino)
	}
	if o.Cgroup != "" {
		st, err := os.Stat(o.Cgroup)
		if err != nil {
			return nil, fmt.Errorf("trace: cgroup %s: %w", o.Cgroup, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("trace: cgroup %s: not a directory of the cgroup v2 hierarchy", o.Cgroup)
		}
		f.cgroup = o.Cgroup
		f.cgroups = walkCgroups(o.Cgroup)
	}
	return f, nil
}

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

// walkCgroups returns the ids (directory inodes) of dir and every cgroup
// below it.
func walkCgroups(dir string) map[uint64]bool {
	ids := map[uint64]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if ino, err := inode(p); err == nil {
			ids[ino] = true
		}
		return nil
	})
	return ids
}

func (f *filter) keep(e Event) bool {
	if f.pid != 0 && e.PID != f.pid {
		return false
	}
	if f.netns != 0 && e.NetNS != f.netns {
		return false
	}
	if f.cgroup != "" {
		if e.Cgroup == 0 {
			return false
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.cgroups[e.Cgroup] {
			f.cgroups = walkCgroups(f.cgroup) // a cgroup made since
		}
		return f.cgroups[e.Cgroup]
	}
	return true
}

// holderOf finds a process holding socket inode ino in /proc, for sockets
// that existed before the tracer: the kernel ended the connection, but the
// application has not closed it yet. Only processes in the socket's
// network namespace (netns, an inode; 0 for any) are searched.
func holderOf(ino uint64, netns uint32) (int, string) {
	want := "socket:[" + strconv.FormatUint(ino, 10) + "]"
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, ""
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + p.Name()
		if netns != 0 {
			if ns, err := inode(dir + "/ns/net"); err != nil || uint32(ns) != netns {
				continue
			}
		}
		fds, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(dir + "/fd/" + fd.Name()); err == nil && l == want {
				comm, _ := os.ReadFile(dir + "/comm")
				return pid, strings.TrimSpace(string(comm))
			}
		}
	}
	return 0, ""
}
