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
// dial into a cut path), where go-default alone does not. At T = 3 s the
// plan has no spread; at the shortest T whose plan has enforce's and
// apply's jitter (spreadT), the three ways of applying it keep the bounds
// that include it.
func TestIntegrationLabEnforcedApplied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create namespaces and cgroups and load eBPF")
	}
	if testing.Short() {
		t.Skip("waits for the caps of the go-default and applied dial cells (8 s, T + 4 s)")
	}
	spread := spreadT(t)
	for _, tt := range []struct {
		T, cap  time.Duration
		configs []ConfigName
	}{
		{3 * time.Second, 8 * time.Second, []ConfigName{GoDefault, Enforced, Applied}},
		{spread, spread + 4*time.Second, []ConfigName{Flatline, Enforced, Applied}},
	} {
		t.Run(tt.T.String(), func(t *testing.T) {
			t.Parallel()
			runEnforcedApplied(t, tt.T, tt.cap, tt.configs)
		})
	}
}

// spreadT is the shortest whole-second Timeout from 8 s whose plan spreads
// connections and has enforce's jitter.
func spreadT(t *testing.T) time.Duration {
	t.Helper()
	for T := 8 * time.Second; T <= 60*time.Second; T += time.Second {
		if p, err := (flatline.Config{Timeout: T}).Plan(); err == nil && p.Spread > 0 && p.MaxJitter() > 0 {
			t.Logf("T = %v: spread %v, jitter up to %v", T, p.Spread, p.MaxJitter())
			return T
		}
	}
	t.Fatal("no Timeout from 8 s to 60 s has a plan with enforce's jitter")
	return 0
}

func runEnforcedApplied(t *testing.T, T, capAt time.Duration, configs []ConfigName) {
	var cells []Cell
	for _, w := range []Workload{Idle, Sending, Connect} {
		for _, c := range configs {
			cells = append(cells, Cell{w, Blackhole, c})
		}
	}
	res, err := Run(context.Background(), Options{Timeout: T, Cap: capAt, Cells: cells, Endpoint: testEndpoint(t), Enforce: testEnforce})
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
		case c.Config == Applied && c.Workload == Connect:
			want = Never // a dial is Go's own: 127 s of SYN retries
		case c.Config == GoDefault && c.Workload == Connect:
			want = Never
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
