package lab

import "testing"

// checkHeartbeatCells asserts the quick matrix's heartbeat and pause cells
// (TestIntegrationLabQuick runs them): the frozen peer is reported as
// unresponsive in time (the cell's deadline: T plus the larger of the
// kernel's slack for the state and T/20 for the Go scheduler), a partition
// in time, and nothing dies of a pause within the budget or of a blip.
func checkHeartbeatCells(t *testing.T, cell func(string) CellResult) {
	t.Helper()
	for _, w := range []Workload{Idle, Sending, Receiving, Replication} {
		c := cell(Cell{w, PeerFrozen, FlatlineHeartbeat}.Name())
		if c.DetectedS == nil || c.Verdict != InTime || c.Cause != "heartbeat-unresponsive" {
			t.Errorf("%s: verdict %s after %v s, cause %q (%s); want %s, heartbeat-unresponsive",
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
