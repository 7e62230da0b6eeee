package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestIntegrationLabOnly is for people working on the lab: it runs the
// cells matching FLATLINE_LAB_ONLY (FLATLINE_LAB_QUICK=1 for the quick
// subset, FLATLINE_LAB_PARALLEL=n) and logs the table; with
// FLATLINE_LAB_CHART=file.png it writes the chart too. It fails when a
// chosen cell is missing from the result or broke its configuration's own
// promise (late, a false kill, never within a promise below the cap, or
// could not run), as the lab's summary counts them.
func TestIntegrationLabOnly(t *testing.T) {
	if os.Getenv("FLATLINE_LAB_ONLY") == "" {
		t.Skip("set FLATLINE_LAB_ONLY=pattern to run chosen lab cells")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	cells, err := Matrix(os.Getenv("FLATLINE_LAB_QUICK") != "", os.Getenv("FLATLINE_LAB_ONLY"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := Run(context.Background(), Options{Timeout: 3 * time.Second, Cells: cells, Parallel: parallelEnv(), Endpoint: testEndpoint(t), Enforce: testEnforce})
	if err != nil {
		t.Errorf("Run: %v", err)
	}
	t.Logf("%d cells in %v", len(cells), time.Since(start))
	for _, c := range res.Cells {
		b, _ := json.Marshal(c)
		t.Logf("%s", b)
	}
	var table strings.Builder
	WriteTable(&table, res)
	t.Logf("\n%s", table.String())
	if len(res.Cells) != len(cells) {
		t.Errorf("%d cells in the result, %d chosen", len(res.Cells), len(cells))
	}
	capS := res.Cells[0].CapS
	for _, c := range res.Cells {
		never := c.Verdict == Never && c.ExpectedS != nil && *c.ExpectedS+c.SlackS < capS
		if c.Verdict == Late || c.Verdict == FalseKill || c.Verdict == Errored || never {
			t.Errorf("%s broke its promise: %s (detected %v s, expected %v s + %v s slack) %s", c.Cell().Name(), c.Verdict, deref(c.DetectedS), deref(c.ExpectedS), c.SlackS, c.Error)
		}
	}
	if path := os.Getenv("FLATLINE_LAB_CHART"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := WriteChart(f, res); err != nil {
			t.Errorf("WriteChart: %v", err)
		}
	}
}

func parallelEnv() int {
	n := 0
	fmt.Sscan(os.Getenv("FLATLINE_LAB_PARALLEL"), &n)
	return n
}
