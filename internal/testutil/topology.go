package testutil

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/topology"
)

// Topology builds a client <-> router <-> server topology for t and closes
// it when t ends, failed or not (a failed Close fails t). It skips t when
// the machine cannot build one (not root, no veth, no nf_tables): the
// reason is in the skip message.
func Topology(t testing.TB) *topology.Topology {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topo, err := topology.New(ctx)
	if errors.Is(err, topology.ErrNotSupported) {
		t.Skipf("no lab topology here: %v", err)
	}
	if err != nil {
		t.Fatalf("build the lab topology: %v", err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Errorf("close the lab topology: %v", err)
		}
	})
	return topo
}
