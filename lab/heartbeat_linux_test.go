package lab

import (
	"testing"
	"time"
)

// checkHeartbeatCells asserts the quick matrix's heartbeat and pause cells
// (TestIntegrationLabQuick runs them): the frozen peer is reported as
// unresponsive within T + T/20 (the heartbeat's deadline is T − T/20; the
// rest is the Go scheduler on a loaded machine), a partition within the
// cell's own deadline, and nothing dies of a pause within the budget or of
// a blip.
func checkHeartbeatCells(t *testing.T, cell func(string) CellResult, T time.Duration) {
	t.Helper()
	for _, w := range []Workload{Idle, Sending, Receiving, Replication} {
		c := cell(Cell{w, PeerFrozen, FlatlineHeartbeat}.Name())
		if c.DetectedS == nil || c.Verdict != InTime || *c.DetectedS > (T+T/20).Seconds() || c.Cause != "heartbeat-unresponsive" {
			t.Errorf("%s: verdict %s after %v s, cause %q (%s); want %s within T + T/20, heartbeat-unresponsive",
				c.Cell().Name(), c.Verdict, fmtPtr(c.DetectedS), c.Cause, c.Error, InTime)
		}
	}
	for _, w := range []Workload{Idle, Sending, Replication} {
		if c := cell(Cell{w, Blackhole, FlatlineHeartbeat}.Name()); c.Verdict != InTime {
			t.Errorf("%s: verdict %s after %v s (%s), want %s", c.Cell().Name(), c.Verdict, fmtPtr(c.DetectedS), c.Error, InTime)
		}
	}
	survivors := []Cell{{Replication, PeerPaused, Flatline}, {Replication, PeerPaused, FlatlineHeartbeat}, {Idle, Blip, FlatlineHeartbeat}}
	for _, c := range Configs() {
		survivors = append(survivors, Cell{Idle, PeerPaused, c})
	}
	for _, s := range survivors {
		if c := cell(s.Name()); c.Verdict != Survived {
			t.Errorf("%s: verdict %s after %v s (%s), want %s", c.Cell().Name(), c.Verdict, fmtPtr(c.DetectedS), c.Error, Survived)
		}
	}
}
