package diag

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
)

// owners maps socket inodes to the processes holding them.
type owners struct {
	byInode map[uint64][]Owner
	// unreadable counts processes whose fd directory could not be read.
	unreadable int
}

// walkOwners reads /proc/PID/fd of every process (pid 0) or of one.
// Processes that exit during the walk are skipped; for a single pid that
// does not exist it returns an error matching ErrNoProcess.
func walkOwners(pid int) (owners, error) {
	o := owners{byInode: make(map[uint64][]Owner)}
	if pid != 0 {
		err := o.readProcess(pid)
		if errors.Is(err, fs.ErrNotExist) {
			return o, fmt.Errorf("diag: pid %d: %w", pid, ErrNoProcess)
		}
		if err != nil {
			return o, fmt.Errorf("diag: read fds of pid %d (needs root or CAP_SYS_PTRACE for another user's process): %w", pid, err)
		}
		return o, nil
	}
	d, err := os.Open("/proc")
	if err != nil {
		return o, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return o, err
	}
	for _, name := range names {
		p, err := strconv.Atoi(name)
		if err != nil || p <= 0 {
			continue
		}
		switch err := o.readProcess(p); {
		case err == nil, errors.Is(err, fs.ErrNotExist):
		default:
			o.unreadable++
		}
	}
	for ino := range o.byInode {
		slices.SortFunc(o.byInode[ino], func(a, b Owner) int {
			if a.PID != b.PID {
				return a.PID - b.PID
			}
			return a.FD - b.FD
		})
	}
	return o, nil
}

func (o *owners) readProcess(pid int) error {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	comm := ""
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		target, err := os.Readlink(dir + name)
		if err != nil {
			continue // closed since the directory was read
		}
		ino, ok := ParseSocketLink(target)
		if !ok {
			continue
		}
		if comm == "" {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
			comm = strings.TrimSpace(string(b))
		}
		o.byInode[ino] = append(o.byInode[ino], Owner{PID: pid, FD: fd, Comm: comm})
	}
	return nil
}
