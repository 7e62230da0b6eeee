package flatline

import (
	"strings"
	"testing"
	"time"
)

func TestPlanFalseKills(t *testing.T) {
	tests := []struct {
		timeout time.Duration
		loss    float64
		maxIdle float64
		note    string // "" when none
	}{
		{30 * time.Second, 0.05, 1e-6, ""},
		{12 * time.Second, 0.05, 1e-4, ""},
		{10 * time.Second, 0.05, 2e-2, "with Spread NoSpread it gives 3s/1s/7"},
		{3 * time.Second, 0.01, 2, "room for 2 exchanges"},
		{6 * time.Second, 0.05, 100, "Timeout of 11s"},
	}
	for _, tt := range tests {
		p, err := Config{Timeout: tt.timeout}.Plan()
		if err != nil {
			t.Fatal(err)
		}
		f, err := p.FalseKills(tt.loss)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.States) != len(States()) {
			t.Fatalf("T=%v: %d states", tt.timeout, len(f.States))
		}
		idle := f.State(StateIdle)
		if idle.PerHour > tt.maxIdle || idle.Exchanges < 2 || idle.OutageSurvived <= 0 {
			t.Errorf("T=%v at %v: idle %+v, want at most %v an hour", tt.timeout, tt.loss, idle, tt.maxIdle)
		}
		notes := strings.Join(f.Notes, "\n")
		if tt.note == "" && strings.Contains(notes, "falsely killed") || !strings.Contains(notes, tt.note) {
			t.Errorf("T=%v at %v: notes %q, want %q", tt.timeout, tt.loss, notes, tt.note)
		}
	}
	// Plan.Notes say it at the design loss, without being asked.
	p3, _ := Config{Timeout: 3 * time.Second}.Plan()
	if n := strings.Join(p3.Notes, "\n"); !strings.Contains(n, "at 5 % loss each way") || !strings.Contains(n, "package liveness") {
		t.Errorf("T=3s: Plan.Notes %q, want the design loss's false kills and what works", n)
	}
	p30, _ := Config{}.Plan()
	if n := strings.Join(p30.Notes, "\n"); strings.Contains(n, "falsely killed") {
		t.Errorf("T=30s: Plan.Notes %q, want no false-kill warning", n)
	}
	p, _ := Config{}.Plan()
	for _, bad := range []float64{-0.01, 1, 2} {
		if _, err := p.FalseKills(bad); err == nil {
			t.Errorf("loss %v: want an error", bad)
		}
	}
	// Go's defaults at 5 %: measured 0 of 300 idle connections in 3 min.
	g, err := GoDialerSettings().FalseKills(LinuxDefaults(), 0.05, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := g[0].PerHour; r*300*3/60 > 0.1 {
		t.Errorf("Go's defaults at 5 %%: %.3g an hour", r)
	}
}
