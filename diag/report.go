package diag

import (
	"cmp"
	"encoding/binary"
	"slices"
	"time"
)

// order sorts rows worst first (by verdict, then how long they would
// hang, never first, then by address; TestOrder states it as worse),
// grouped by
// owning process (own): the group of the process with the worst socket
// comes first; sockets without an owner form the last group. It sorts
// keys, then moves each row once, in place (a copy of 20,000 would be
// megabytes).
func order(rows []row, own *owners) {
	// worse's keys, packed: the first three in k; for IPv4 the addresses
	// in a and b (address above port, as netip compares them). Sorting
	// the keys themselves keeps the comparisons in one array.
	type key struct {
		k    int64
		w    time.Duration // Worst, for what k leaves out (Never's, past 2^59)
		a, b uint64
		v6   bool
		i    int32
	}
	keys := make([]key, len(rows))
	for i := range rows {
		r := &rows[i]
		k := int64(r.verdict.rank()) << 60
		if !r.never {
			k |= 1 << 59
			k |= (1<<59 - 1) - min(max(int64(r.worst), 0), 1<<59-1) // longer first
		}
		keys[i] = key{k: k, w: r.worst, i: int32(i)}
		if r.local4 && r.remote4 {
			keys[i].a = uint64(binary.BigEndian.Uint32(r.local[12:]))<<16 | uint64(r.lport)
			keys[i].b = uint64(binary.BigEndian.Uint32(r.remote[12:]))<<16 | uint64(r.rport)
		} else {
			keys[i].v6 = true
		}
	}
	slices.SortFunc(keys, func(x, y key) int {
		if c := cmp.Compare(x.k, y.k); c != 0 {
			return c
		}
		if c := cmp.Compare(y.w, x.w); c != 0 {
			return c
		}
		if !x.v6 && !y.v6 {
			if c := cmp.Compare(x.a, y.a); c != 0 {
				return c
			}
			if c := cmp.Compare(x.b, y.b); c != 0 {
				return c
			}
		} else if c := worseAddr(&rows[x.i], &rows[y.i]); c != 0 {
			return c
		}
		return cmp.Compare(x.i, y.i)
	})
	idx := make([]int32, len(rows))
	for j := range keys {
		idx[j] = keys[j].i
	}
	keys = nil
	// A process's group ranks where its worst socket does; a counting
	// sort by group keeps the worst-first order within each.
	group := make([]int32, len(rows))
	rank := make(map[int]int32)
	lastPID, lastRank := 0, int32(-1) // most sockets are one busy process's
	for _, i := range idx {
		o := own.ofGroup(rows[i].owned)
		if len(o) == 0 {
			group[i] = -1
			continue
		}
		pid := o[0].PID
		if pid != lastPID {
			r, seen := rank[pid]
			if !seen {
				r = int32(len(rank))
				rank[pid] = r
			}
			lastPID, lastRank = pid, r
		}
		group[i] = lastRank
	}
	start := make([]int32, len(rank)+2) // start[g+1]: first slot of group g; unowned last
	for _, g := range group {
		if g < 0 {
			g = int32(len(rank))
		}
		start[g+1]++
	}
	for g := 1; g < len(start); g++ {
		start[g] += start[g-1]
	}
	sorted := make([]int32, len(idx))
	for _, i := range idx {
		g := group[i]
		if g < 0 {
			g = int32(len(rank))
		}
		sorted[start[g]] = i
		start[g]++
	}
	permute(rows, sorted)
}

// worseAddr orders two rows by address as worse does: local, then remote.
func worseAddr(x, y *row) int {
	a, b := x.msg(), y.msg()
	if c := a.Local.Compare(b.Local); c != 0 {
		return c
	}
	return a.Remote.Compare(b.Remote)
}

// permute moves socks[idx[k]] to socks[k] for every k, in place, one
// cycle of the permutation at a time; it consumes idx.
func permute[T any](socks []T, idx []int32) {
	for start := range idx {
		if int(idx[start]) == start {
			continue
		}
		tmp := socks[start]
		k := start
		for {
			j := int(idx[k])
			idx[k] = int32(k)
			if j == start {
				socks[k] = tmp
				break
			}
			socks[k] = socks[j]
			k = j
		}
	}
}

// summarize counts sockets by verdict and by how long they would hang.
func summarize(socks []row, maxWait time.Duration) Summary {
	s := Summary{Total: len(socks), ByVerdict: make(map[Verdict]int)}
	buckets := []HangCount{
		{Label: "within " + maxWait.String()},
		{Label: "up to 5m"},
		{Label: "up to 1h"},
		{Label: "longer"},
		{Label: "never"},
		{Label: "unknown"},
	}
	for i := range socks {
		k := &socks[i]
		s.ByVerdict[k.verdict]++
		switch {
		case !k.known:
			buckets[5].Count++
		case k.never:
			buckets[4].Count++
		case k.worst <= maxWait:
			buckets[0].Count++
		case k.worst <= 5*time.Minute:
			buckets[1].Count++
		case k.worst <= time.Hour:
			buckets[2].Count++
		default:
			buckets[3].Count++
		}
	}
	s.Hang = buckets
	return s
}

// dedupe drops repeated sockets (same cookie) that an interrupted dump may
// have reported twice, keeping the first.
func dedupe(socks []row) []row {
	seen := make(map[uint64]bool, len(socks))
	out := socks[:0]
	for _, s := range socks {
		if seen[s.cookie] {
			continue
		}
		seen[s.cookie] = true
		out = append(out, s)
	}
	return out
}
