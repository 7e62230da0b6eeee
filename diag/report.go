package diag

import (
	"cmp"
	"slices"
	"time"
)

// worse orders two sockets worst first: by verdict, then by how long they
// would hang (never first), then by address for a stable order.
func worse(a, b *Socket) int {
	if c := cmp.Compare(a.Verdict.rank(), b.Verdict.rank()); c != 0 {
		return c
	}
	if a.Never != b.Never {
		if a.Never {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(b.Worst, a.Worst); c != 0 {
		return c
	}
	if c := a.Local.Compare(b.Local); c != 0 {
		return c
	}
	return a.Remote.Compare(b.Remote)
}

// order sorts sockets worst first, grouped by owning process: the group of
// the process with the worst socket comes first; sockets without an owner
// form the last group. It sorts indices, not the (large) sockets.
func order(socks []Socket) {
	idx := make([]int, len(socks))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return worse(&socks[a], &socks[b]) })
	// Group, keeping the worst-first order within each group and ordering
	// groups by their first (worst) socket.
	groups := make(map[int][]int)
	var pids []int
	var unowned []int
	for _, i := range idx {
		o, ok := socks[i].Owner()
		if !ok {
			unowned = append(unowned, i)
			continue
		}
		if _, seen := groups[o.PID]; !seen {
			pids = append(pids, o.PID)
		}
		groups[o.PID] = append(groups[o.PID], i)
	}
	sorted := make([]Socket, 0, len(socks))
	for _, pid := range pids {
		for _, i := range groups[pid] {
			sorted = append(sorted, socks[i])
		}
	}
	for _, i := range unowned {
		sorted = append(sorted, socks[i])
	}
	copy(socks, sorted)
}

// summarize counts sockets by verdict and by how long they would hang.
func summarize(socks []Socket, maxWait time.Duration) Summary {
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
		s.ByVerdict[k.Verdict]++
		switch {
		case !k.Known:
			buckets[5].Count++
		case k.Never:
			buckets[4].Count++
		case k.Worst <= maxWait:
			buckets[0].Count++
		case k.Worst <= 5*time.Minute:
			buckets[1].Count++
		case k.Worst <= time.Hour:
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
func dedupe(socks []Socket) []Socket {
	seen := make(map[uint64]bool, len(socks))
	out := socks[:0]
	for _, s := range socks {
		if seen[s.Cookie] {
			continue
		}
		seen[s.Cookie] = true
		out = append(out, s)
	}
	return out
}
