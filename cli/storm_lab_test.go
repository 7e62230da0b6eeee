package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/flatline-dev/flatline/internal/testutil"
)

// TestIntegrationLabStorm runs `flatline lab storm` small: one strategy,
// JSON, chart and capture files.
func TestIntegrationLabStorm(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	dir := t.TempDir()
	chart := filepath.Join(dir, "storm.svg")
	cmd := newLabStormCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"--conns", "60", "--timeout", "6s", "--strategies", "flatline", "--json", "--chart", chart, "--pcap", dir})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var got struct {
		Conns      int `json:"conns"`
		Strategies []struct {
			Name                string `json:"name"`
			FalseDead           int    `json:"false_dead"`
			WorstBurst          int    `json:"worst_burst"`
			PredictedWorstBurst int    `json:"predicted_worst_burst"`
			Probes              int    `json:"probes"`
		} `json:"strategies"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, stdout.String())
	}
	if got.Conns != 60 || len(got.Strategies) != 1 || got.Strategies[0].Name != "flatline" || got.Strategies[0].Probes == 0 || got.Strategies[0].FalseDead != 0 {
		t.Errorf("unexpected result %+v", got)
	}
	for _, name := range []string{chart, filepath.Join(dir, "flatline.pcap")} {
		if st, err := os.Stat(name); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if svg, err := os.ReadFile(chart); err == nil {
		if n := len(testutil.ParseSVG(t, svg).All(testutil.Class("panel"))); n != 1 {
			t.Errorf("the chart has %d panels, want one for the one strategy", n)
		}
	}
	// The capture reads back through `flatline pcap` with the same count.
	var out2 bytes.Buffer
	if code := Run([]string{"pcap", "--json", filepath.Join(dir, "flatline.pcap")}, nil, &out2, &stderr); code != 0 {
		t.Fatalf("pcap: exit %d: %s", code, stderr.String())
	}
	var p struct {
		Probes int `json:"probes"`
	}
	if err := json.Unmarshal(out2.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Probes < got.Strategies[0].Probes {
		t.Errorf("pcap counts %d probes, storm %d (client side only)", p.Probes, got.Strategies[0].Probes)
	}
}
