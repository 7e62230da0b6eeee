package enforce_test

import (
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/testutil"
)

// TestIntegrationPartition is the promise for programs flatline did not
// write: Python's socket module and Go's zero net.Dialer, idle and sending,
// in a cgroup under enforce at T = 5 s, talking across client <-> router
// <-> server namespaces. The router drops everything: each notices within
// the plan's bound for its state. The same programs outside the cgroup are
// still open at that cap.
func TestIntegrationPartition(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("waits for the partition to be noticed (about 6 s)")
	}
	const T = 5 * time.Second
	cfg := flatline.Config{Timeout: T}
	plan, err := cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	topo := testutil.Topology(t)
	srv := serveDrain(t, topo)

	g := newGroup(t, "partition")
	e := attachT(t, g, enforce.Options{Config: cfg})

	var runs []cutRun
	for _, inside := range []bool{true, false} {
		for _, kind := range clientKinds {
			for _, mode := range []flatline.State{flatline.StateIdle, flatline.StateSending} {
				grp := g
				if !inside {
					grp = nil
				}
				c := startClient(t, kind, string(mode), topo.ServerAddr.String(), "7100", topo.Client, grp)
				if inside {
					c.name += " (enforced)"
				}
				runs = append(runs, cutRun{c, inside, mode})
			}
		}
	}
	want := "connected " + planLine(plan)
	for _, r := range runs {
		got := r.c.next(t, 10*time.Second).text
		if r.kept && got != want {
			t.Errorf("%s: %q, want %q", r.c.name, got, want)
		}
		if !r.kept && !strings.HasPrefix(got, "connected ") {
			t.Errorf("%s: %q", r.c.name, got)
		}
	}
	// The senders have data in flight, as they would when the path is
	// cut under them.
	srv.waitSenders(t, sending(runs))

	// Stated slack on top of each Bound's deadline: 300 ms for the
	// sending workload's period (50 ms), an RTO inflated above the plan's
	// 200 ms on a loaded machine, and the client process printing its line.
	const slack = 300 * time.Millisecond
	capAt := cutAndJudge(t, topo, plan, slack, runs, func(text string) bool {
		return strings.HasPrefix(text, "dead") && strings.Contains(strings.ToLower(text), "timed out")
	}, " outside the cgroup")
	s, _ := e.Stats()
	t.Logf("stats: %+v; cap %v", s, capAt)
	if s.Connects != 4 || s.SetErrors != 0 {
		t.Errorf("stats %+v: want 4 connects, no errors", s)
	}
}
