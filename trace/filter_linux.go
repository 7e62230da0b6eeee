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
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
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
			return nil, fmt.Errorf("trace: network namespace %q: a name from %s, without '/' (or give NetNSPath)", o.NetNS, kernel.NetNSDir)
		}
		p, err := kernel.NetNSPath(o.NetNS)
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		path = p
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

// keepBefore is keep for what is known before the owner is looked up in
// /proc: the namespace, the socket's cgroup, an owner already known.
func (f *filter) keepBefore(e Event) bool {
	if f.pid != 0 && e.PID != 0 && e.PID != f.pid {
		return false
	}
	if f.netns != 0 && e.NetNS != f.netns {
		return false
	}
	if f.cgroup != "" && e.Cgroup != 0 {
		return f.inCgroup(e.Cgroup)
	}
	return true
}

func (f *filter) inCgroup(id uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.cgroups[id] {
		f.cgroups = walkCgroups(f.cgroup) // a cgroup made since
	}
	return f.cgroups[id]
}

func (f *filter) keep(e Event) bool {
	if f.pid != 0 && e.PID != f.pid {
		return false
	}
	if f.netns != 0 && e.NetNS != f.netns {
		return false
	}
	if f.cgroup != "" {
		return e.Cgroup != 0 && f.inCgroup(e.Cgroup)
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
