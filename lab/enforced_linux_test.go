package lab

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
)

// TestIntegrationLabEnforcedApplied: Go's zero net.Dialer inside a cgroup
// under enforce, and a go-default connection fixed mid-life by apply, keep
// the plan of T under a partition, idle and sending (and enforce bounds a
// dial into a cut path), where go-default alone does not.
func TestIntegrationLabEnforcedApplied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create namespaces and cgroups and load eBPF")
	}
	if testing.Short() {
		t.Skip("waits for the cap of the go-default cells (8 s)")
	}
	const T = 3 * time.Second
	var cells []Cell
	for _, w := range []Workload{Idle, Sending, Connect} {
		for _, c := range []ConfigName{GoDefault, Enforced, Applied} {
			cells = append(cells, Cell{w, Blackhole, c})
		}
	}
	res, err := Run(context.Background(), Options{Timeout: T, Cap: 8 * time.Second, Cells: cells, Endpoint: testEndpoint(t), Enforce: testEnforce})
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skipf("not supported here: %v", err)
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, c := range res.Cells {
		want := InTime
		switch {
		case c.Config == GoDefault && c.Workload != Connect:
			want = Never
		case c.Config != Enforced && c.Workload == Connect:
			want = Never // a dial is Go's own: 127 s of SYN retries
		}
		got := c.Verdict
		if c.Config == GoDefault || c.Config == Applied && c.Workload == Connect {
			if c.DetectedS == nil {
				got = Never
			}
		}
		t.Logf("%s: %s after %v s (expected %v s)", c.Cell().Name(), c.Verdict, deref(c.DetectedS), deref(c.ExpectedS))
		if got != want {
			t.Errorf("%s: %s, want %s", c.Cell().Name(), got, want)
		}
	}
}

// testEnforce is Options.Enforce for the lab's tests.
func testEnforce(path string, cfg flatline.Config) (io.Closer, error) {
	return enforce.Attach(path, enforce.Options{Config: cfg})
}

func deref(p *float64) any {
	if p == nil {
		return "-"
	}
	return *p
}
