package trace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/flatline-dev/flatline/internal/cgroup2"
	"golang.org/x/sys/unix"
)

// cgroupFilter tells whether a cgroup v2 id (the inode of its directory,
// what the BPF programs report) is dir or below it. It asks the kernel
// for the id's directory (open_by_handle_at, as systemd does with cgroup
// ids) and remembers the answer: no walk of the hierarchy, and an id once
// known is never looked up again (cgroup ids are not reused).
type cgroupFilter struct {
	dir   string // absolute, symlinks resolved
	mount int    // dir, open: the mount for open_by_handle_at

	mu    sync.Mutex
	known map[uint64]bool
}

// maxKnownCgroups bounds the filter's memory: past it, answers are
// forgotten and asked again.
const maxKnownCgroups = 1 << 16

func newCgroupFilter(path string) (*cgroupFilter, error) {
	fail := func(err error) error { return fmt.Errorf("trace: cgroup %s: %w", path, err) }
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fail(err)
	}
	fd, err := unix.Open(abs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fail(&os.PathError{Op: "open", Path: abs, Err: err})
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil || fs.Type != unix.CGROUP2_SUPER_MAGIC {
		unix.Close(fd)
		return nil, fail(errors.New("not a directory of the cgroup v2 hierarchy (such as /sys/fs/cgroup/system.slice/NAME.service; cgroup v1 controllers' directories do not count)"))
	}
	return &cgroupFilter{dir: abs, mount: fd, known: make(map[uint64]bool)}, nil
}

// close releases the mount's descriptor; it may be called more than once.
func (c *cgroupFilter) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mount >= 0 {
		unix.Close(c.mount)
		c.mount = -1
	}
}

// contains reports whether cgroup id is c.dir or below it. A cgroup that
// no longer exists is not.
func (c *cgroupFilter) contains(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if in, ok := c.known[id]; ok {
		return in
	}
	in := c.lookup(id)
	if len(c.known) >= maxKnownCgroups {
		clear(c.known)
	}
	c.known[id] = in
	return in
}

func (c *cgroupFilter) lookup(id uint64) bool {
	if c.mount < 0 {
		return false
	}
	p, err := c.path(id)
	if err != nil {
		return false
	}
	return p == c.dir || strings.HasPrefix(p, c.dir+"/")
}

// path is the directory of cgroup id, on the mount of c.dir.
func (c *cgroupFilter) path(id uint64) (string, error) {
	fd, err := cgroup2.OpenByID(c.mount, id)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	return os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
}
