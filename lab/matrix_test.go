package lab

import (
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/google/go-cmp/cmp"
)

func TestVerdict(t *testing.T) {
	d := func(s float64) *time.Duration { x := time.Duration(s * float64(time.Second)); return &x }
	for _, tt := range []struct {
		name        string
		mustSurvive bool
		expectNever bool
		deadline    time.Duration
		detected    *time.Duration
		want        Verdict
	}{
		{"within the promise", false, false, 3 * time.Second, d(2.9), InTime},
		{"at the deadline", false, false, 3 * time.Second, d(3), InTime},
		{"after the deadline", false, false, 3 * time.Second, d(3.1), Late},
		{"no error within the cap", false, false, 3 * time.Second, nil, Never},
		{"nothing promised, nothing seen", false, true, 0, nil, Never},
		{"nothing promised, error seen", false, true, 0, d(15), InTime},
		{"blip ridden out", true, true, 0, nil, Survived},
		{"blip killed", true, true, 0, d(2), FalseKill},
	} {
		if got := verdict(tt.mustSurvive, tt.expectNever, tt.deadline, tt.detected); got != tt.want {
			t.Errorf("%s: verdict = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestMatrix(t *testing.T) {
	full, err := Matrix(false, "")
	if err != nil {
		t.Fatal(err)
	}
	// 9 faults x 5 workloads + 4 faults for connect, x 6 socket
	// configurations; the heartbeat: 9 faults x 4 workloads (no dial, no
	// zero window); the path faults' 14 cells (latency 2+2, loss 3+3, rate
	// 1, MTU 2, middlebox 1) x the 4 socket configurations they compare.
	if got, want := len(full), (9*5+4)*6+9*4+14*4; got != want {
		t.Errorf("full matrix: %d cells, want %d", got, want)
	}
	quick, _ := Matrix(true, "")
	if len(quick) == 0 || len(quick) >= len(full)/3 {
		t.Errorf("quick matrix: %d cells, want a small subset of %d", len(quick), len(full))
	}
	var got []string
	only, err := Matrix(false, "connect/blackhole/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range only {
		got = append(got, c.Name())
	}
	want := []string{
		"connect/blackhole/go-default",
		"connect/blackhole/keepalive-only",
		"connect/blackhole/keepalive+user-timeout",
		"connect/blackhole/flatline",
		"connect/blackhole/enforced",
		"connect/blackhole/applied",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Matrix(only=connect/blackhole/*) mismatch (-want +got):\n%s", diff)
	}
	hb, _ := Matrix(false, "*/"+string(FlatlineHeartbeat))
	for _, c := range hb {
		if c.Workload == ZeroWindow || c.Workload == Connect {
			t.Errorf("heartbeat cell %s: the heartbeat watches a link that is up and read", c.Name())
		}
	}
	if _, err := Matrix(false, "[bad"); err == nil {
		t.Errorf("Matrix with a malformed pattern: no error")
	}
}

func TestStorySettings(t *testing.T) {
	for _, tt := range []struct {
		t    time.Duration
		want time.Duration
	}{
		{3 * time.Second, time.Second},
		{30 * time.Second, 10 * time.Second},
		{2 * time.Second, time.Second},
		{10 * time.Second, 3 * time.Second},
	} {
		s := storySettings(tt.t, true)
		if s.Idle != tt.want || s.Interval != tt.want || s.Count != 2 || s.UserTimeout != tt.t {
			t.Errorf("storySettings(%v) = %+v, want idle=interval=%v, count 2, user timeout %v", tt.t, s, tt.want, tt.t)
		}
	}
}

// TestLossKillChance: the lab holds a lossy cell to survival only where the
// false-kill model gives its settings less than atRiskChance in the cell's
// time (at T = 3 s, 1s/1s/2 at 5 % each way: q = 0.0975 a probe exchange,
// q² ≈ 0.0095 a keepalive cycle of about 1 s, some 30 cycles in 30 s).
func TestLossKillChance(t *testing.T) {
	host := flatline.LinuxDefaults()
	for _, tt := range []struct {
		cell      Cell
		timeout   time.Duration
		atLeast   float64
		atMost    float64
		notJudged bool
	}{
		{Cell{Idle, Loss5, Flatline}, 3 * time.Second, 0.1, 0.5, false},
		{Cell{Idle, Loss1, Flatline}, 3 * time.Second, 0.001, 0.05, false},
		{Cell{Idle, Loss5, Flatline}, 30 * time.Second, 0, 1e-6, false},
		{Cell{Idle, Loss5, GoDefault}, 3 * time.Second, 0, 1e-4, false},
		{Cell{Idle, Blackhole, Flatline}, 3 * time.Second, 0, 0, true},
	} {
		p, ok := lossKillChance(tt.cell, tt.timeout, host, 10*tt.timeout)
		if ok == tt.notJudged {
			t.Errorf("%s at %v: judged %v, want %v", tt.cell.Name(), tt.timeout, ok, !tt.notJudged)
			continue
		}
		if p < tt.atLeast || p > tt.atMost {
			t.Errorf("%s at %v: chance %.3g, want %g to %g", tt.cell.Name(), tt.timeout, p, tt.atLeast, tt.atMost)
		}
	}
}
