package lab

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// TestIntegrationMiddleboxExpiry: behind a middlebox that forgets flows
// idle for MiddleboxTimeout (10 s), Go's default dialer (keepalive idle
// 15 s) loses its idle connection, and flatline's keepalive keeps it.
func TestIntegrationMiddleboxExpiry(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if testing.Short() {
		t.Skip("a middlebox cell idles for 20 s")
	}
	cells := []Cell{
		{Workload: Idle, Fault: MiddleboxExpiry, Config: GoDefault},
		{Workload: Idle, Fault: MiddleboxExpiry, Config: Flatline},
	}
	res, err := Run(context.Background(), Options{Timeout: 3 * time.Second, Cells: cells, Endpoint: testEndpoint(t)})
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("lab not supported here: %v", err)
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[ConfigName]Verdict{GoDefault: Lost, Flatline: Survived}
	for _, c := range res.Cells {
		if c.Verdict != want[c.Config] {
			t.Errorf("%s: verdict %s (%s), want %s", c.Cell().Name(), c.Verdict, c.Error, want[c.Config])
		}
	}
}
