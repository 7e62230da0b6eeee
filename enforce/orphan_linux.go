package enforce

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flatline-dev/flatline/internal/cgroup2"
	"golang.org/x/sys/unix"
)

// Orphan is a pinned enforcement whose cgroup no longer exists: removed
// after Pin, its programs stay loaded (the links hold the dead cgroup)
// until the pins go.
type Orphan struct {
	CgroupID uint64
	Dir      string // the pin directory DetachOrphans removed
	Stats    Stats  // its counters when removed
}

// DetachOrphans removes, under the pin directory dir, every pinned
// enforcement whose cgroup no longer exists (Detach cannot name it by
// path any more: the path is gone, or a new cgroup with another id
// took it), and returns what it removed. Pins of live cgroups stay.
func DetachOrphans(dir string) ([]Orphan, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("enforce: pin directory %s: %w", dir, err)
	}
	mount, err := cgroup2.Mount()
	if err != nil {
		return nil, fmt.Errorf("enforce: find orphaned pins: %w", err)
	}
	mfd, err := unix.Open(mount, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("enforce: find orphaned pins: open %s: %w", mount, err)
	}
	defer unix.Close(mfd)
	var out []Orphan
	var errs []error
	for _, e := range entries {
		id, ok := pinnedCgroupID(e.Name())
		if !ok {
			continue
		}
		alive, err := cgroupAlive(mfd, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("enforce: cgroup id %d of %s: %w", id, e.Name(), err))
			continue
		}
		if alive {
			continue
		}
		d := filepath.Join(dir, e.Name())
		st, err := detachDir(d)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, Orphan{CgroupID: id, Dir: d, Stats: st})
	}
	return out, errors.Join(errs...)
}

// pinnedCgroupID parses a directory name Pin makes.
func pinnedCgroupID(name string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, pinName(0)[:len(pinName(0))-1])
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(rest, 10, 64)
	return id, err == nil && pinName(id) == name
}

// cgroupAlive asks the kernel for the directory of cgroup id on the
// cgroup2 mount open as mfd (open_by_handle_at with the id as a kernfs
// file handle): ESTALE or ENOENT means it was removed.
func cgroupAlive(mfd int, id uint64) (bool, error) {
	fd, err := cgroup2.OpenByID(mfd, id)
	switch {
	case err == nil:
		unix.Close(fd)
		return true, nil
	case errors.Is(err, unix.ESTALE), errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, err
}
