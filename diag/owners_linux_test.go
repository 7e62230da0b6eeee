package diag

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGroupOwners: every descriptor lands with its socket, a socket's
// owners lowest pid then fd first, whatever order they came in; an
// unknown inode has none.
func TestGroupOwners(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	want := map[uint64][]Owner{}
	var recs []ownerOf
	for ino := uint64(100); ino < 400; ino++ {
		n := 1
		if ino%7 == 0 {
			n = 1 + r.IntN(4) // several processes, or fds, on one socket
		}
		for range n {
			o := Owner{PID: 1 + r.IntN(5), FD: r.IntN(1000), Comm: "c"}
			want[ino] = append(want[ino], o)
			recs = append(recs, ownerOf{ino, o})
		}
	}
	r.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	o := groupOwners(recs)
	for ino, w := range want {
		slices.SortFunc(w, compareOwners)
		got := o.of(ino)
		if !slices.Equal(got, w) {
			t.Fatalf("inode %d: %v, want %v", ino, got, w)
		}
		if cap(got) != len(got) {
			t.Fatalf("inode %d: an append to its owners could write over another's", ino)
		}
	}
	if o.of(99) != nil || o.of(400) != nil {
		t.Fatal("owners for an unknown inode")
	}
	// An index's socket without an owner has none.
	g := newOwners(map[uint64]int32{5: 0, 6: 1}, 2)
	g.add(1, Owner{PID: 3, FD: 4})
	if g.of(5) != nil || len(g.of(6)) != 1 {
		t.Fatalf("of(5) %v, of(6) %v", g.of(5), g.of(6))
	}
}
