package flatline_test

import (
	"context"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/diag"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// TestIntegrationDialerSpread reads the kernel's own keepalive timers of
// connections a Dialer made together (inet_diag expiry): with Spread the
// first probes are due over the spread, each within the plan's idle bound
// (dial + Spread + Idle, plus a timer-wheel bucket), and at most a third
// as many fall in one bucket as without it.
func TestIntegrationDialerSpread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading the process's sockets with inet_diag needs root here")
	}
	const n = 100
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	hz, _ := kernel.HostHZ("/") // 0: the largest bucket over common HZ
	worst := map[time.Duration]int{}
	for _, spread := range []time.Duration{2 * time.Second, flatline.NoSpread} {
		cfg := flatline.Config{Timeout: 30 * time.Second, Spread: spread}
		plan, err := cfg.Plan()
		if err != nil {
			t.Fatal(err)
		}
		bucket := kernel.Granularity(hz, plan.Settings.Idle)
		d := &flatline.Dialer{Config: cfg}
		first := time.Now()
		var conns []net.Conn
		for range n {
			c, err := d.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		last := time.Now()
		// Measure once every re-arm is due (the spread, and a slot for
		// the spreader's timers), before any first probe (Idle 8 s).
		<-time.After(time.Until(last.Add(max(plan.Spread, 0) + 500*time.Millisecond)))
		rep, err := diag.Scan(context.Background(), diag.Options{PID: os.Getpid()})
		scanned := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		var due []time.Time
		for _, s := range rep.Sockets {
			if int(s.Remote.Port()) == port && s.Timer == diag.TimerKeepalive {
				due = append(due, scanned.Add(time.Duration(s.Expires)*time.Millisecond))
			}
		}
		for _, c := range conns {
			c.Close()
		}
		if len(due) != n {
			t.Fatalf("spread %v: %d connections with a keepalive timer, want %d", spread, len(due), n)
		}
		slices.SortFunc(due, func(a, b time.Time) int { return a.Compare(b) })
		lo, hi := first.Add(plan.Settings.Idle-bucket), last.Add(max(plan.Spread, 0)+plan.Settings.Idle+bucket)
		if due[0].Before(lo) || due[n-1].After(hi) {
			t.Errorf("spread %v: first probes due %v to %v after the first dial, want within [%v, %v]",
				spread, due[0].Sub(first), due[n-1].Sub(first), lo.Sub(first), hi.Sub(first))
		}
		for i := range due {
			j := i
			for j < n && due[j].Sub(due[i]) < bucket {
				j++
			}
			worst[spread] = max(worst[spread], j-i)
		}
		t.Logf("spread %v (idle %v): first probes due %v to %v after the first dial; at most %d of %d within one %v bucket",
			plan.Spread, plan.Settings.Idle, due[0].Sub(first).Round(time.Millisecond), due[n-1].Sub(first).Round(time.Millisecond), worst[spread], n, bucket)
	}
	if worst[2*time.Second]*3 > worst[flatline.NoSpread] {
		t.Errorf("spreading left %d timers in one bucket, without it %d: want at most a third", worst[2*time.Second], worst[flatline.NoSpread])
	}
}
