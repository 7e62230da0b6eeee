package storm

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestModelStaticProbesTogether(t *testing.T) {
	k := Keepalive{Idle: 3 * time.Second, Interval: time.Second, Count: 1}
	conns, err := Conns(Static, k, 0, nil, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Model{Clock: Clock{HZ: 250}, Horizon: 10 * time.Second}.Run(conns)
	if err != nil {
		t.Fatal(err)
	}
	// Armed at jiffy 0: first firing at 768 (3 s rounded up to 256 ms),
	// then +256 (1 s at level 1) and the rest of the idle: 768+752, ...
	var got []time.Duration
	for i, p := range res.Probes {
		if i%100 == 0 {
			got = append(got, p.At)
		}
	}
	want := []time.Duration{768 * 4 * time.Millisecond, 1520 * 4 * time.Millisecond, 2272 * 4 * time.Millisecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("burst times (-want +got):\n%s", diff)
	}
	if got := WorstBurst(res.Times(), res.Tick).Probes; got != 100 {
		t.Errorf("worst burst = %d, want 100", got)
	}
	if got := res.FalseDead(); got != 0 {
		t.Errorf("false dead = %d, want 0 without a policer", got)
	}
}

func TestModelSpreadReachesFloor(t *testing.T) {
	k := Keepalive{Idle: 8 * time.Second, Interval: 5 * time.Second, Count: 3}
	const n = 2000
	spread := 7 * time.Second
	floor := Floor(n, 256*time.Millisecond, spread)
	tests := []struct {
		s        Strategy
		min, max int
	}{
		{Static, n, n},
		{Offsets, floor, floor * 3 / 2},   // random piles: up to half again
		{Golden, floor, floor + floor/10}, // low discrepancy: within 10%
	}
	for _, tt := range tests {
		t.Run(string(tt.s), func(t *testing.T) {
			conns, err := Conns(tt.s, k, spread, nil, n, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Model{Clock: Clock{HZ: 250}, Horizon: time.Minute}.Run(conns)
			if err != nil {
				t.Fatal(err)
			}
			got := WorstBurst(res.Times(), res.Tick).Probes
			if got < tt.min || got > tt.max {
				t.Errorf("worst burst = %d, want in [%d, %d] (floor %d)", got, tt.min, tt.max, floor)
			}
		})
	}
}

func TestModelPolicerKillsBursts(t *testing.T) {
	k := Keepalive{Idle: 3 * time.Second, Interval: time.Second, Count: 1}
	pol := &Policer{PerSecond: 200, Burst: 50} // golden: ~17 probes + 17 answers per 256 ms bucket
	static, _ := Conns(Static, k, 0, nil, 200, nil)
	golden, _ := Conns(Golden, k, 3*time.Second, nil, 200, rand.New(rand.NewPCG(1, 2)))
	m := Model{Clock: Clock{HZ: 250}, Horizon: 20 * time.Second, Police: pol}
	rs, _ := m.Run(static)
	rg, _ := m.Run(golden)
	if rs.FalseDead() < 150 {
		t.Errorf("static: %d of 200 dead, want most", rs.FalseDead())
	}
	if rg.FalseDead() != 0 {
		t.Errorf("golden: %d of 200 dead, want none", rg.FalseDead())
	}
}

func TestModelUserTimeout(t *testing.T) {
	// Every probe dropped: with user timeout 5 s and 3s/1s the connection
	// dies at the first firing at least 5 s after the last receive with a
	// probe out: probes at 3.072 s and 4.096 s, death at 5.12 s.
	c := Conn{Idle: 3 * time.Second, Interval: time.Second, UserTimeout: 5 * time.Second, Count: 9}
	res, err := Model{Clock: Clock{HZ: 250}, Horizon: 20 * time.Second, Police: &Policer{PerSecond: 0, Burst: 0}}.Run([]Conn{c})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Dead[0]
	if d < 5*time.Second || d > 5*time.Second+c.Interval+256*time.Millisecond {
		t.Errorf("dead at %v, want in [5s, 5s + interval + one 256 ms bucket]", d)
	}
}

func TestModelRejectsBadConn(t *testing.T) {
	_, err := Model{Clock: Clock{HZ: 250}}.Run([]Conn{{Idle: 0, Interval: time.Second}})
	if err == nil {
		t.Fatal("Run accepted a zero idle")
	}
}

func TestWorstBurstAndHistogram(t *testing.T) {
	ms := time.Millisecond
	ts := []time.Duration{0, 1 * ms, 2 * ms, 10 * ms, 11 * ms, 300 * ms}
	if diff := cmp.Diff(Burst{Probes: 3, At: 0}, WorstBurst(ts, 4*ms)); diff != "" {
		t.Errorf("WorstBurst (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{5, 0, 1}, Histogram(ts, 0, 128*ms)); diff != "" {
		t.Errorf("Histogram (-want +got):\n%s", diff)
	}
	if got := Floor(1000, 256*ms, 3*time.Second); got != 86 {
		t.Errorf("Floor = %d, want 86", got)
	}
}

// TestModelHostQueueCutsLockstep: 2000 static connections whose host
// passes 300 probes a tick (the lab's two CPUs times their backlog, scaled
// down): each firing puts 300 on the wire and answers them, the rest are
// lost probes, so after three firings 900 connections were answered and
// the other 1100 die at the fourth. Flatline's spread keeps every bucket
// under the cap: nothing cut, nobody dead.
func TestModelHostQueueCutsLockstep(t *testing.T) {
	k := Keepalive{Idle: 8 * time.Second, Interval: 5 * time.Second, Count: 3}
	const n, perTick = 2000, 300
	for _, tt := range []struct {
		s               Strategy
		spread          time.Duration
		dead, wireBurst int
	}{
		{Static, 0, n - 3*perTick, perTick},
		{Offsets, 7 * time.Second, 0, -1},
	} {
		conns, err := Conns(tt.s, k, tt.spread, nil, n, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Model{Clock: Clock{HZ: 250}, Horizon: 30 * time.Second, Host: &HostQueue{PerTick: perTick}}.Run(conns)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.FalseDead(); got != tt.dead {
			t.Errorf("%s: %d dead, want %d", tt.s, got, tt.dead)
		}
		got := WorstBurst(res.Times(), res.Tick).Probes
		if tt.wireBurst >= 0 && got != tt.wireBurst {
			t.Errorf("%s: worst burst on the wire %d, want %d", tt.s, got, tt.wireBurst)
		}
		if got > perTick {
			t.Errorf("%s: %d probes on the wire in one tick, over the host's %d", tt.s, got, perTick)
		}
		cut := 0
		for _, p := range res.Probes {
			if p.Cut {
				cut++
			}
		}
		if tt.dead == 0 && cut != 0 {
			t.Errorf("%s: %d probes cut, want none", tt.s, cut)
		}
	}
}
