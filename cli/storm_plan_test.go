package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

func TestPlanStorm(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"plan", "--timeout", "30s", "--conns", "2000", "--burst", "100", "--json"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got struct {
		Storm struct {
			Conns      int `json:"conns"`
			Floor      int `json:"floor"`
			Strategies []struct {
				Name       string `json:"name"`
				WorstBurst int    `json:"worst_burst"`
			} `json:"strategies"`
			Recommended *struct {
				TimeoutS   float64 `json:"timeout_s"`
				WorstBurst int     `json:"worst_burst"`
			} `json:"recommended"`
		} `json:"storm"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, stdout.String())
	}
	s := got.Storm
	if s.Conns != 2000 || len(s.Strategies) != 3 {
		t.Fatalf("storm = %+v", s)
	}
	names := []string{s.Strategies[0].Name, s.Strategies[1].Name, s.Strategies[2].Name}
	if strings.Join(names, ",") != "static,jitter,flatline" {
		t.Errorf("strategies %v, want static, jitter, flatline", names)
	}
	if st, fl := s.Strategies[0].WorstBurst, s.Strategies[2].WorstBurst; st != 2000 || fl >= st || fl < s.Floor {
		t.Errorf("static %d, flatline %d, floor %d: want static 2000 > flatline >= floor", st, fl, s.Floor)
	}
	if s.Recommended == nil || s.Recommended.WorstBurst > 100 || s.Recommended.TimeoutS < 30 {
		t.Errorf("recommended %+v, want a timeout >= 30s within 100", s.Recommended)
	}
}

func TestPlanStormTableAndUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"plan", "--conns", "500"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, s := range []string{"keepalive bursts of 500 connections", "static timers", "flatline's spread", "timer-wheel floor"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, stdout.String())
		}
	}
	if code := Run([]string{"plan", "--burst", "10"}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("--burst without --conns: exit %d, want 2", code)
	}
}

// TestPlanConnsBounds: a --conns the model cannot follow is refused in
// one line (no Go stack), and a long forecast stops when the command's
// context ends (as SIGINT or SIGTERM end it).
func TestPlanConnsBounds(t *testing.T) {
	for _, n := range []string{"2000000000", "100001", "-5"} {
		var stdout, stderr bytes.Buffer
		code := Run([]string{"plan", "--conns", n}, nil, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "want 1 to 100000") || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("plan --conns %s: exit %d, stderr %q; want 2 and one line naming the bound", n, code, stderr.String())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	var out bytes.Buffer
	err := runPlan(ctx, &out, planFlags{cfg: flatline.Config{Timeout: 30 * time.Second}, conns: 100000})
	// Unstopped, this forecast takes about 27 s here; the bound allows a
	// model run in flight (about 2.5 s) and a loaded machine.
	if took := time.Since(start); err == nil || took > 15*time.Second {
		t.Errorf("plan --conns 100000 cancelled after 300 ms: %v after %v, want an error well before the end", err, took)
	}
}
