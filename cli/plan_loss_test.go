package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseLoss(t *testing.T) {
	for in, want := range map[string]float64{"1%": 0.01, "0.01": 0.01, " 5 % ": 0.05, "0": 0, "0.5%": 0.005} {
		got, err := parseLoss(in)
		if err != nil || got < want-1e-12 || got > want+1e-12 {
			t.Errorf("parseLoss(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "1", "100%", "-1%", "NaN", "Inf", "1e400"} {
		if _, err := parseLoss(in); err == nil || !strings.Contains(err.Error(), "%") {
			t.Errorf("parseLoss(%q): %v, want an error that shows how to write it", in, err)
		}
	}
}

// TestPlanLossJSON: the judged figure. Measured on Linux 6.18 with
// nftables random loss in a router: 42 (and 40) of 600 idle Timeout-3s
// connections died in 3 minutes at 1 % loss each way; the forecast must be
// within a factor 2. Every state's three objects carry the figures.
func TestPlanLossJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"plan", "--timeout", "3s", "--loss", "1%", "--json"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got struct {
		Loss      float64  `json:"loss"`
		Notes     []string `json:"notes"`
		Heartbeat struct {
			PerHour float64 `json:"false_kills_per_hour"`
		} `json:"heartbeat"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		States []map[string]json.RawMessage `json:"states"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	var idle float64
	for _, st := range raw.States {
		for _, who := range []string{"flatline", "go_default", "linux_default"} {
			var f map[string]json.RawMessage
			if err := json.Unmarshal(st[who], &f); err != nil || f["false_kills_per_hour"] == nil || f["outage_survived_s"] == nil {
				t.Errorf("%s %s: %s lacks false_kills_per_hour or outage_survived_s", st["state"], who, st[who])
				continue
			}
			var perHour float64
			if err := json.Unmarshal(f["false_kills_per_hour"], &perHour); err != nil {
				t.Errorf("%s %s: false_kills_per_hour %s is not a number", st["state"], who, f["false_kills_per_hour"])
			}
			if who == "flatline" && string(st["state"]) == `"idle"` {
				idle = perHour
			}
		}
	}
	if dead := idle * 600 * 3 / 60; dead < 21 || dead > 84 {
		t.Errorf("forecast %.1f of 600 idle connections dead in 3 min at 1 %%, measured 42: not within a factor 2", dead)
	}
	if got.Loss != 0.01 || got.Heartbeat.PerHour <= 0 || got.Heartbeat.PerHour >= idle {
		t.Errorf("loss %v, heartbeat %v an hour: want 0.01 and a heartbeat safer than keepalive's %v", got.Loss, got.Heartbeat.PerHour, idle)
	}
	notes := strings.Join(got.Notes, "\n")
	for _, want := range []string{"room for 2 exchanges", "heartbeat", "Timeout of"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

func TestPlanLossTableAndUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"plan", "--loss", "5%"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"false kills of a live peer at 5% random loss", "heartbeat (liveness", "Go net.Dialer"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "falsely killed") {
		t.Errorf("the default plan at 5 %% needs no warning:\n%s", out)
	}
	stderr.Reset()
	if code := Run([]string{"plan", "--loss", "5"}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "5%") {
		t.Errorf("--loss 5: exit %d, %q; want 2 and how to write it", code, stderr.String())
	}
	stdout.Reset()
	if code := Run([]string{"plan", "--json"}, nil, &stdout, &stderr); code != 0 || strings.Contains(stdout.String(), "false_kills") {
		t.Errorf("without --loss: exit %d, want no false-kill fields:\n%s", code, stdout.String())
	}
}
