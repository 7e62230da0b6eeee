package topology

import (
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIntegrationRandomLossRuleset compares the fault chain with random
// loss on everything and on a port range, as nft lists it in the router
// namespace, with testdata/loss.nft.
func TestIntegrationRandomLossRuleset(t *testing.T) {
	nft := nftOracle(t)
	topo := newTestTopology(t)
	if err := topo.RandomLoss(10); err != nil {
		t.Fatalf("RandomLoss: %v", err)
	}
	if err := topo.RandomLossOnPorts(50, 20000, 20001); err != nil {
		t.Fatalf("RandomLossOnPorts: %v", err)
	}
	if err := topo.RandomLossOnPorts(50, 2, 1); err == nil {
		t.Error("RandomLossOnPorts(50, 2, 1) accepted a reversed range")
	}
	if err := topo.RandomLoss(LossScale); err == nil {
		t.Error("RandomLoss(LossScale) accepted a loss of every packet")
	}
	var out []byte
	if err := topo.Router.Do(func() error {
		var err error
		out, err = exec.Command(nft, "list", "chain", "inet", tableName, chainFaults).Output()
		return err
	}); err != nil {
		t.Fatalf("nft list in the router: %v", err)
	}
	checkGolden(t, "loss.nft", out)
	drops, err := topo.LossDrops()
	if err != nil {
		t.Fatalf("LossDrops: %v", err)
	}
	if diff := cmp.Diff(map[uint16]uint64{20000: 0}, drops); diff != "" {
		t.Errorf("LossDrops (-want +got):\n%s", diff)
	}
	if err := topo.Heal(); err != nil {
		t.Fatal(err)
	}
	if drops, err := topo.LossDrops(); err != nil || len(drops) != 0 {
		t.Errorf("after Heal: LossDrops = %v, %v; want none", drops, err)
	}
}
