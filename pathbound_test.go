package flatline

import (
	"testing"
	"time"
)

func TestBoundOnPath(t *testing.T) {
	p, err := Config{Timeout: 3 * time.Second}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	short := Path{SRTT: 100 * time.Microsecond, RTO: 201 * time.Millisecond}
	long := Path{SRTT: 300 * time.Millisecond, RTO: 500 * time.Millisecond}
	for _, tc := range []struct {
		name  string
		path  Path
		state State
		extra time.Duration
	}{
		{"short path, sending", short, StateSending, 1300 * time.Microsecond},
		{"long path, sending", long, StateSending, 900*time.Millisecond + 200*time.Millisecond + 500*time.Millisecond - FirstRetransmission},
		{"long path, closed window", long, StateClosedWindow, 1200 * time.Millisecond},
		{"long path, idle", long, StateIdle, 0},
		{"long path, connecting", long, StateConnecting, 0},
	} {
		b := p.Bound(tc.state)
		got := b.On(tc.path).Worst - b.Worst
		if got != tc.extra {
			t.Errorf("%s: On adds %v, want %v", tc.name, got, tc.extra)
		}
		if pb := p.On(tc.path).Bound(tc.state); pb.Worst != b.On(tc.path).Worst {
			t.Errorf("%s: Plan.On %v, Bound.On %v", tc.name, pb.Worst, b.On(tc.path).Worst)
		}
	}
	if got := FirstRetransmissionOn(Path{}); got != FirstRetransmission {
		t.Errorf("FirstRetransmissionOn(zero path) = %v, want %v", got, FirstRetransmission)
	}
}
