package diag

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// owners maps socket inodes to the processes holding them, by group:
// one map entry a socket and its first owner in an array (no slice per
// socket, no sort: at 20,000 sockets a sort and a binary search a socket
// cost three times the map); the few sockets several descriptors hold
// have them all, lowest pid then fd first, in more.
type owners struct {
	group map[uint64]int32 // inode → its group
	first []Owner          // group g's owner (lowest pid, then fd); PID 0: none yet
	more  map[int32][]Owner
	// unreadable counts processes whose fd directory could not be read.
	unreadable int
}

// newOwners returns owners over groups (shared: the caller's map of
// inodes to group numbers below n) with none added yet.
func newOwners(group map[uint64]int32, n int) owners {
	return owners{group: group, first: make([]Owner, n)}
}

// add adds a descriptor holding group g's socket.
func (o *owners) add(g int32, ow Owner) {
	if o.first[g].PID == 0 {
		o.first[g] = ow
		return
	}
	if o.more == nil {
		o.more = make(map[int32][]Owner)
	}
	m := o.more[g]
	if m == nil {
		m = []Owner{o.first[g]}
	}
	i, _ := slices.BinarySearchFunc(m, ow, compareOwners)
	m = slices.Insert(m, i, ow)
	o.more[g], o.first[g] = m, m[0]
}

func compareOwners(a, b Owner) int {
	if a.PID != b.PID {
		return cmp.Compare(a.PID, b.PID)
	}
	return cmp.Compare(a.FD, b.FD)
}

// ownerOf is one descriptor on a socket.
type ownerOf struct {
	ino uint64
	Owner
}

// groupOwners groups descriptors by socket.
func groupOwners(recs []ownerOf) owners {
	group := make(map[uint64]int32, len(recs))
	for _, r := range recs {
		if _, ok := group[r.ino]; !ok {
			group[r.ino] = int32(len(group))
		}
	}
	o := newOwners(group, len(group))
	for _, r := range recs {
		o.add(group[r.ino], r.Owner)
	}
	return o
}

// of returns the processes holding the socket with inode ino, lowest pid
// (then fd) first; nil when none.
func (o *owners) of(ino uint64) []Owner {
	g, ok := o.group[ino]
	switch {
	case !ok || o.first[g].PID == 0:
		return nil
	case o.more != nil:
		if m, ok := o.more[g]; ok {
			return m[:len(m):len(m)]
		}
	}
	return o.first[g : g+1 : g+1]
}

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
