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
// FLATLINE_LAB_CHART=file.png it writes the chart too. It asserts nothing.
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
	res, err := Run(context.Background(), Options{Timeout: 3 * time.Second, Cells: cells, Parallel: parallelEnv(), Endpoint: testEndpoint(t)})
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
