package diag

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// fdBatch is a slice of one process's descriptors to resolve.
type fdBatch struct {
	pid   int
	names []string
}

// ownerLink is one descriptor found to be a socket.
type ownerLink struct {
	ino     uint64
	pid, fd int
}

// walkOwners reads the /proc/PID/fd links of every process (pid 0) or of
// one, on as many threads as Go may run at once. Processes that exit and
// descriptors closed during the walk are skipped; for a single pid that
// does not exist it returns an error matching ErrNoProcess.
func walkOwners(pid int) (owners, error) {
	var o owners
	var pids []int
	if pid != 0 {
		pids = []int{pid}
	} else {
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
			if p, err := strconv.Atoi(name); err == nil && p > 0 {
				pids = append(pids, p)
			}
		}
	}

	const batch = 512
	var work []fdBatch
	for _, p := range pids {
		names, err := readFDNames(p)
		switch {
		case err == nil:
		case pid != 0 && errors.Is(err, fs.ErrNotExist):
			return o, fmt.Errorf("diag: pid %d: %w", pid, ErrNoProcess)
		case pid != 0:
			return o, fmt.Errorf("diag: read fds of pid %d (needs root or CAP_SYS_PTRACE for another user's process): %w", pid, err)
		case errors.Is(err, fs.ErrNotExist):
			continue // exited
		default:
			o.unreadable++
			continue
		}
		for len(names) > 0 {
			n := min(batch, len(names))
			work = append(work, fdBatch{pid: p, names: names[:n]})
			names = names[n:]
		}
	}

	links := resolveLinks(work)
	comms := make(map[int]string)
	recs := make([]ownerOf, 0, len(links))
	for _, l := range links {
		comm, ok := comms[l.pid]
		if !ok {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(l.pid) + "/comm")
			comm = strings.TrimSpace(string(b))
			comms[l.pid] = comm
		}
		recs = append(recs, ownerOf{l.ino, Owner{PID: l.pid, FD: l.fd, Comm: comm}})
	}
	unreadable := o.unreadable
	o = groupOwners(recs)
	o.unreadable = unreadable
	return o, nil
}

func readFDNames(pid int) ([]string, error) {
	d, err := os.Open("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// resolveLinks reads the fd links of work in parallel and returns those
// that are sockets.
func resolveLinks(work []fdBatch) []ownerLink {
	workers := min(runtime.GOMAXPROCS(0), max(len(work), 1))
	next := make(chan fdBatch)
	results := make([][]ownerLink, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				dir := "/proc/" + strconv.Itoa(b.pid) + "/fd/"
				for _, name := range b.names {
					fd, err := strconv.Atoi(name)
					if err != nil {
						continue
					}
					target, err := os.Readlink(dir + name)
					if err != nil {
						continue // closed since the directory was read
					}
					if ino, ok := ParseSocketLink(target); ok {
						results[w] = append(results[w], ownerLink{ino: ino, pid: b.pid, fd: fd})
					}
				}
			}
		}()
	}
	for _, b := range work {
		next <- b
	}
	close(next)
	wg.Wait()
	var all []ownerLink
	for _, r := range results {
		all = append(all, r...)
	}
	return all
}
