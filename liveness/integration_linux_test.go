package liveness_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/flatline-dev/flatline/internal/topology"
	"github.com/flatline-dev/flatline/liveness"
)

// TestIntegrationPartition: a peer process in another network namespace,
// every packet dropped in the router: the pings stay unacknowledged by the
// peer's kernel, and the link fails as unreachable (not unresponsive)
// within T.
func TestIntegrationPartition(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	topo := testutil.Topology(t)

	const timeout = 3 * time.Second
	listen := func() (ln net.Listener, err error) {
		err = topo.Client.Do(func() error {
			lc := flatline.ListenConfig{Config: flatline.Config{Timeout: timeout}}
			ln, err = lc.Listen(context.Background(), "tcp", net.JoinHostPort(topo.ClientAddr.String(), "0"))
			return err
		})
		return ln, err
	}
	startIn := func(cmd *exec.Cmd) error { return topo.Server.Do(cmd.Start) }
	p := startPeer(t, timeout, listen, startIn)
	m := start(t, p.conn, liveness.Config{Timeout: timeout})
	defer m.Close()
	plan := m.Plan()

	if err := topo.Apply(topology.Blackhole); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	select {
	case <-m.Done():
	case <-time.After(plan.Timeout + schedSlack):
		t.Fatalf("partition not reported within %v + %v", plan.Timeout, schedSlack)
	}
	took := time.Since(cut)
	if err := m.Err(); !errors.Is(err, liveness.ErrUnreachable) {
		t.Fatalf("Err = %v, want ErrUnreachable", err)
	}
	t.Logf("partition reported %v after the cut (T %v): %v", took, plan.Timeout, m.Err())
}
