package flatline

import (
	"net"
	"testing"
	"time"
)

// TestSpreaderSort: a dial only appends to the pending list; a sort files
// the connections still open under their slots and lets go of the closed
// ones, leaves alone one whose instant has passed, and firing the slots
// re-arms the open ones (keepalive still on) and empties the spreader.
func TestSpreaderSort(t *testing.T) {
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
	// A spread of 100,000 hours in slots of a minute, and no sort of its
	// own: no instant falls in the slot under way (a chance of 3e-6 for
	// the 20), no slot fires, nothing runs but the test.
	const spread = 100000 * time.Hour
	s := &spreader{spread: spread, slot: time.Minute, sortAfter: time.Hour, due: map[int64][]*net.TCPConn{}, origin: time.Now()}
	const n = 40
	var open []*net.TCPConn
	for i := range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.(*net.TCPConn).SetKeepAlive(true); err != nil {
			t.Fatal(err)
		}
		s.add(c)
		if i%2 == 0 {
			c.Close()
		} else {
			open = append(open, c.(*net.TCPConn))
		}
	}
	held := func() (all int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, conns := range s.due {
			all += len(conns)
			for _, c := range conns {
				if !isOpen(c) {
					t.Errorf("a closed connection is held")
				}
			}
		}
		return all
	}
	s.mu.Lock()
	if len(s.pending) != n || !s.sorting {
		t.Errorf("after %d dials: %d pending, sorting %v; want %d, true", n, len(s.pending), s.sorting, n)
	}
	s.mu.Unlock()
	s.sort()
	if got := held(); got != len(open) {
		t.Errorf("after a sort: %d held, want the %d open of %d", got, len(open), n)
	}
	s.mu.Lock()
	if len(s.pending) != 0 || s.sorting {
		t.Errorf("after a sort: %d pending, sorting %v; want none, false", len(s.pending), s.sorting)
	}
	s.mu.Unlock()
	// Handed over a spread ago: every instant has passed, the
	// connections are left at the phase of their connect (no slot more).
	s.mu.Lock()
	slots := len(s.due)
	s.mu.Unlock()
	for _, c := range open {
		s.add(c)
	}
	s.mu.Lock()
	s.start -= spread
	s.mu.Unlock()
	s.sort()
	s.mu.Lock()
	if len(s.due) != slots {
		t.Errorf("after sorting connections whose instants have passed: %d slots, want the %d of before", len(s.due), slots)
	}
	s.mu.Unlock()
	if got := held(); got != len(open) {
		t.Errorf("after sorting connections whose instants have passed: %d held, want the %d of before", got, len(open))
	}
	// Firing every slot re-arms the open ones and empties the spreader.
	s.mu.Lock()
	var keys []int64
	for k := range s.due {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, k := range keys {
		s.fire(k)
	}
	if got := held(); got != 0 {
		t.Errorf("after firing every slot: %d held", got)
	}
	for _, c := range open {
		st, err := ReadSettings(c)
		if err != nil {
			t.Fatal(err)
		}
		if !st.KeepAlive {
			t.Errorf("%v: keepalive off after its re-arm", c.LocalAddr())
		}
	}
}
