package flatline

import (
	"net"
	"testing"
	"time"
)

// TestSpreaderPrune: the spreader lets go of the connections closed
// before their slot at a prune, keeps the open ones in their slots, and a
// slot that fires during a prune is left alone.
func TestSpreaderPrune(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	// A spreader whose slots are far away: nothing fires during the test.
	s := &spreader{spread: time.Hour, slot: time.Minute, due: map[int64]*slotConns{}, origin: time.Now()}
	const n = 40
	var open []*net.TCPConn
	for i := range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s.add(c)
		if i%2 == 0 {
			c.Close()
		} else {
			open = append(open, c.(*net.TCPConn))
			defer c.Close()
		}
	}
	held := func() (all, checked int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, sc := range s.due {
			all += len(sc.conns)
			checked += sc.checked
			for _, c := range sc.conns {
				if !isOpen(c) {
					t.Errorf("a closed connection is still held")
				}
			}
		}
		return all, checked
	}
	// The draws that fell in the current slot were never held.
	s.mu.Lock()
	var before, want int
	for _, sc := range s.due {
		for _, c := range sc.conns {
			before++
			if isOpen(c) {
				want++
			}
		}
	}
	s.mu.Unlock()
	if want == before {
		t.Fatalf("all %d held connections open: nothing to prune", before)
	}
	s.prune()
	if all, checked := held(); all != want || checked != all {
		t.Errorf("after a prune: %d held (%d checked), want the %d open of %d", all, checked, want, before)
	}
	all, _ := held()
	// An open connection closed later is held until its slot or the next
	// prune; one prune more lets it go.
	open[0].Close()
	s.mu.Lock()
	for _, sc := range s.due {
		sc.checked = 0
	}
	s.mu.Unlock()
	s.prune()
	if all2, _ := held(); all2 >= all && all > 0 {
		t.Errorf("after closing one and pruning again: %d held, want fewer than %d", all2, all)
	}
	// Firing every slot re-arms the open ones and empties the spreader.
	s.mu.Lock()
	var slots []int64
	for k := range s.due {
		slots = append(slots, k)
	}
	s.mu.Unlock()
	for _, k := range slots {
		s.fire(k)
	}
	if all, _ := held(); all != 0 {
		t.Errorf("after firing every slot: %d held", all)
	}
}
