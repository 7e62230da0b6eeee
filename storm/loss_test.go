package storm

import (
	"testing"
	"time"
)

// TestBeforeLoss: a connection's probes count up to its first loss the
// capture shows: the unanswered probe counts, its retry does not; a gap
// hiding probes ends the count at the probe after it.
func TestBeforeLoss(t *testing.T) {
	const s, late = time.Second, 256 * time.Millisecond
	k := Keepalive{Idle: 8 * s, Interval: 5 * s, Count: 3}
	tests := []struct {
		ts   []time.Duration
		want int
	}{
		{[]time.Duration{8*s + late, 16*s + 2*late, 24*s + 3*late}, 3}, // all answered
		{[]time.Duration{8 * s, 13*s + late, 21*s + 2*late}, 1},        // the first unanswered: its retry moved the phase
		{[]time.Duration{8 * s, 16*s + late, 29*s + 2*late}, 2},        // one never seen between the second and third
		{[]time.Duration{9 * s}, 1},
		{nil, 0},
	}
	for _, tt := range tests {
		if got := BeforeLoss(tt.ts, k); got != tt.want {
			t.Errorf("BeforeLoss(%v) = %d, want %d", tt.ts, got, tt.want)
		}
	}
	if got := BeforeLoss([]time.Duration{8 * s, 13 * s}, Keepalive{Idle: 5 * s, Interval: 5 * s}); got != 2 {
		t.Errorf("interval = idle: %d, want 2 (losses cannot be told apart)", got)
	}
}

// TestTimesBeforeLoss: the model's probes count as the capture would see
// them: a policed probe counts and ends its connection's count, a probe
// the host cut ends it only after a probe of the connection was on the
// wire.
func TestTimesBeforeLoss(t *testing.T) {
	ms := func(x int) time.Duration { return time.Duration(x) * time.Millisecond }
	r := Result{Dead: []time.Duration{-1, -1, -1}, Probes: []Probe{
		{Conn: 0, At: ms(1)},
		{Conn: 1, At: ms(1), Lost: true, Cut: true}, // cut before any was seen: unseen
		{Conn: 2, At: ms(1), Lost: true},            // policed: on the wire, then lost
		{Conn: 0, At: ms(2)},
		{Conn: 1, At: ms(2)},
		{Conn: 2, At: ms(2)}, // the retry
		{Conn: 0, At: ms(3), Lost: true, Cut: true},
		{Conn: 1, At: ms(3)},
		{Conn: 0, At: ms(4)}, // after a cut the capture sees as a gap
	}}
	got := r.TimesBeforeLoss(true)
	want := []time.Duration{ms(1), ms(1), ms(2), ms(2), ms(3)}
	if len(got) != len(want) {
		t.Fatalf("TimesBeforeLoss = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("TimesBeforeLoss = %v, want %v", got, want)
		}
	}
	if got, all := len(r.TimesBeforeLoss(false)), len(r.Times()); got != all {
		t.Errorf("not visible: %d probes, want all %d on the wire", got, all)
	}
}

// TestTimesBeforeLossIsWhatACaptureSees: on a model run with losses (a
// policer and a host cutting static timers' bursts), the probes
// TimesBeforeLoss keeps are those BeforeLoss keeps from each connection's
// probes on the wire, as a capture beyond the host reads them.
func TestTimesBeforeLossIsWhatACaptureSees(t *testing.T) {
	k := Keepalive{Idle: 8 * time.Second, Interval: 5 * time.Second, Count: 3, UserTimeout: 22 * time.Second}
	conns, err := Conns(Static, k, 0, nil, 3000, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := Model{Clock: Clock{HZ: 250}, Horizon: time.Minute, Police: &Policer{PerSecond: 1500, Burst: 800}, Host: &HostQueue{PerTick: 2002}}
	r, err := m.Run(conns)
	if err != nil {
		t.Fatal(err)
	}
	byConn := make([][]time.Duration, len(conns))
	lost := 0
	for _, p := range r.Probes {
		if p.Lost {
			lost++
		}
		if !p.Cut {
			byConn[p.Conn] = append(byConn[p.Conn], p.At)
		}
	}
	want := 0
	for _, ts := range byConn {
		want += BeforeLoss(ts, k)
	}
	got := len(r.TimesBeforeLoss(true))
	if got != want || lost == 0 || got == len(r.Times()) {
		t.Errorf("TimesBeforeLoss keeps %d probes, the capture's reading %d (of %d on the wire, %d lost)", got, want, len(r.Times()), lost)
	}
}
