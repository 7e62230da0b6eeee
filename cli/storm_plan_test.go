package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
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
