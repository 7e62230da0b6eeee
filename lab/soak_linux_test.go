package lab

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestIntegrationSoakMachinery runs a small, short soak at 30 % loss each
// way and asserts the machinery, not rates (those go in the lab's output
// and docs/soak.md): the router drops each group's packets and the
// sockets see it (tcp_info retransmissions); keepalive-only at T = 3 s
// (1s/1s/2: a cycle fails with q² ≈ 0.26 a second) dies; Go's default
// dialer (first probe after 15 s idle, no user timeout) survives 15 s.
func TestIntegrationSoakMachinery(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if testing.Short() {
		t.Skip("the soak holds its connections for 15 s")
	}
	cfg := SoakConfig{
		Conns: 30, Timeout: 3 * time.Second, Duration: 15 * time.Second,
		Configs: []ConfigName{KeepaliveOnly, GoDefault}, Losses: []Loss{300},
		Endpoint: testEndpoint(t),
		Progress: func(s string) { t.Log(s) },
	}
	res, err := RunSoak(context.Background(), cfg)
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("lab not supported here: %v", err)
	}
	if err != nil {
		t.Fatalf("RunSoak: %v", err)
	}
	if len(res.Groups) != 4 {
		t.Fatalf("%d groups, want 4 (2 configurations × 2 workloads × 1 loss)", len(res.Groups))
	}
	for _, g := range res.Groups {
		t.Logf("%s: %d opened, %d killed %v, model %v in %v, %d router drops, %d retransmits of %d segments",
			g.Name(), g.Opened, g.Killed, g.Causes, fmtPtr(g.Predicted), g.PredictedRange, g.RouterDrops, g.Retransmits, g.SegsOut)
		if g.Opened == 0 {
			t.Errorf("%s: no connection opened", g.Name())
		}
		if g.RouterDrops == 0 {
			t.Errorf("%s: the router dropped nothing", g.Name())
		}
		if g.Workload == SoakTrickle && g.Retransmits == 0 {
			t.Errorf("%s: no retransmission in tcp_info through a 30 %% lossy path", g.Name())
		}
		switch {
		case g.Config == KeepaliveOnly && g.Workload == SoakIdle:
			if g.Killed == 0 {
				t.Errorf("%s: nothing died; 1s/1s/2 at 30 %% loss loses a cycle with q² ≈ 0.26 a second", g.Name())
			}
			if g.Causes["keepalive"] != g.Killed {
				t.Errorf("%s: causes %v, want all keepalive", g.Name(), g.Causes)
			}
		case g.Config == GoDefault:
			if g.Killed != 0 {
				t.Errorf("%s: %d killed (%v); Go's 15s/15s/9 cannot die within 15 s", g.Name(), g.Killed, g.Causes)
			}
		}
	}
	left, _ := filepath.Glob(filepath.Join(NetnsDir, Prefix+strconv.Itoa(os.Getpid())+"-*"))
	if len(left) > 0 {
		t.Errorf("left in %s after RunSoak: %v", NetnsDir, left)
	}
}
