package lab

import (
	"net/netip"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/storm"
)

// TestLostProbes: an answered probe's successor comes Idle later, a
// retry Interval later; a gap of Idle + k·Interval hides k probes the
// router never saw. Times carry a bucket's lateness (256 ms).
func TestLostProbes(t *testing.T) {
	const s, late = time.Second, 256 * time.Millisecond
	k := storm.Keepalive{Idle: 8 * s, Interval: 5 * s, Count: 3}
	server := netip.MustParseAddrPort("198.18.2.2:20000")
	flow := func(port uint16) storm.Flow {
		return storm.Flow{Src: netip.AddrPortFrom(netip.MustParseAddr("198.18.1.2"), port), Dst: server}
	}
	flows := map[storm.Flow][]time.Duration{
		flow(1): {8*s + late, 16*s + 2*late, 24*s + 3*late},       // all answered
		flow(2): {8*s + late, 21*s + 2*late, 29*s + 3*late},       // one never seen, then answered
		flow(3): {26*s + late, 8 * s, 13*s + late, 18*s + 2*late}, // seen and unanswered twice (unsorted), then dead
		flow(4): {8 * s, 26*s + late},                             // two never seen in a row
		flow(5): {9 * s},                                          // one probe: nothing to read
	}
	missing, unanswered := lostProbes(flows, k)
	if missing != 3 || unanswered != 2 {
		t.Errorf("missing %d, unanswered %d; want 3 and 2", missing, unanswered)
	}
	if m, u := lostProbes(flows, storm.Keepalive{Idle: 5 * s, Interval: 5 * s}); m != 0 || u != 0 {
		t.Errorf("interval = idle: missing %d, unanswered %d; want 0, 0 (cannot tell)", m, u)
	}
}
