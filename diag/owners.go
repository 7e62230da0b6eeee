package diag

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// ParseSocketLink returns the inode of a /proc/PID/fd link target of the
// form "socket:[12345]", and false for anything else (files, pipes,
// anon_inode:...).
func ParseSocketLink(target string) (uint64, bool) {
	rest, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok || num == "" || num[0] == '+' {
		return 0, false
	}
	ino, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, false
	}
	return ino, true
}

// parseSockstatTCP returns how many TCP sockets a /proc/net/sockstat
// (proto "TCP") or sockstat6 (proto "TCP6") names for its network
// namespace: in use plus TIME-WAIT (sockstat's "alloc" and "orphan" count
// the whole host; its "tw" both families'); false when the line is
// missing or malformed.
func parseSockstatTCP(b []byte, proto string) (int, bool) {
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, proto+": ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		n := 0
		for i := 0; i+1 < len(f); i += 2 {
			if f[i] != "inuse" && f[i] != "tw" {
				continue
			}
			v, err := strconv.Atoi(f[i+1])
			if err != nil || v < 0 {
				return 0, false
			}
			n += min(v, 1<<30)
		}
		return n, true
	}
	return 0, false
}

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
func (o *owners) of(ino uint64) []Owner { return o.ofGroup(o.groupOf(ino)) }

// groupOf is 1 + the group of the socket with inode ino when a process
// holds it, else 0 (inode 0: no file, so no owner).
func (o *owners) groupOf(ino uint64) int32 {
	if ino == 0 {
		return 0
	}
	g, ok := o.group[ino]
	if !ok || o.first[g].PID == 0 {
		return 0
	}
	return g + 1
}

// ofGroup returns the processes holding the socket of group g1-1 (as
// groupOf gives it), lowest pid (then fd) first; nil for 0.
func (o *owners) ofGroup(g1 int32) []Owner {
	if g1 <= 0 {
		return nil
	}
	g := g1 - 1
	if o.more != nil {
		if m, ok := o.more[g]; ok {
			return m[:len(m):len(m)]
		}
	}
	return o.first[g : g+1 : g+1]
}
