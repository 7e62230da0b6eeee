package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"
)

func TestIntegrationLabProbe(t *testing.T) {
	if os.Getenv("FLATLINE_LAB_PROBE") == "" {
		t.Skip("set FLATLINE_LAB_PROBE=pattern")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	cells, err := Matrix(os.Getenv("FLATLINE_LAB_QUICK") != "", os.Getenv("FLATLINE_LAB_PROBE"))
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
	WriteTable(os.Stdout, res)
	if f, err := os.Create("/tmp/lab-probe.png"); err == nil {
		if err := WriteChart(f, res); err != nil {
			t.Errorf("WriteChart: %v", err)
		}
		f.Close()
	}
}

func parallelEnv() int {
	n := 0
	fmt.Sscan(os.Getenv("FLATLINE_LAB_PARALLEL"), &n)
	return n
}
