package diag

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

func TestLossSeen(t *testing.T) {
	for _, tc := range []struct {
		name string
		info *TCPInfo
		want float64
		ok   bool
	}{
		{"no tcp_info", nil, 0, false},
		{"no segs_out (Linux < 4.2)", &TCPInfo{TotalRetrans: 5}, 0, false},
		{"too few segments", &TCPInfo{TotalRetrans: 5, SegsOut: RiskMinSegments - 1, HasSegsOut: true}, 0, false},
		{"5 %", &TCPInfo{TotalRetrans: 50, SegsOut: 1000, HasSegsOut: true}, 0.05, true},
		{"none lost", &TCPInfo{SegsOut: 5000, HasSegsOut: true}, 0, true},
		{"capped", &TCPInfo{TotalRetrans: 900, SegsOut: 1000, HasSegsOut: true}, RiskMaxLoss, true},
	} {
		got, ok := lossSeen(tc.info)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: lossSeen = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestJudgeRisk: expected false kills per hour at the seen loss against
// the one-line model by hand: q = 1 − (1 − p)²; an idle cycle kills with
// q^n (n probes before the killing firing), one cycle per Idle. The kernel
// model's cycles are longer than Idle (the timer wheel's lateness, the
// probes' own time), so its rate is at most the hand figure and, on these
// short chains, at least three quarters of it.
func TestJudgeRisk(t *testing.T) {
	info := func(retrans uint32) *TCPInfo {
		return &TCPInfo{TotalRetrans: retrans, SegsOut: 1000, HasSegsOut: true}
	}
	t3 := flatline.Settings{KeepAlive: true, Idle: time.Second, Interval: time.Second, Count: 2, UserTimeout: 2600 * time.Millisecond}
	goDefault := flatline.GoDialerSettings()
	for _, tc := range []struct {
		name        string
		s           Socket
		wantVerdict Verdict
		wantKnown   bool
		wantPerHour float64
	}{
		// 1s/1s/2, U 2.6 s: 2 probes; q = 0.0975 at 5 %: 0.0975² · 3600.
		{"T=3s at 5 %", Socket{DiagMsg: DiagMsg{Info: info(50)}, Settings: &t3, Traffic: flatline.StateIdle, Verdict: VerdictOK}, VerdictAtRisk, true, 34.2225},
		// the same at 0.1 %: q = 0.001999, q² · 3600 = 0.01439 per hour: at risk still.
		{"T=3s at 0.1 %", Socket{DiagMsg: DiagMsg{Info: info(1)}, Settings: &t3, Traffic: flatline.StateIdle, Verdict: VerdictFragile}, VerdictAtRisk, true, 0.001999 * 0.001999 * 3600},
		// Go's 15s/15s/9 at 5 %: 0.0975⁹ · 240 ≈ 1.9e-7.
		{"go default at 5 %", Socket{DiagMsg: DiagMsg{Info: info(50)}, Settings: &goDefault, Traffic: flatline.StateIdle, Verdict: VerdictOK}, VerdictOK, true, math.Pow(0.0975, 9) * 240},
		{"slow stays slow", Socket{DiagMsg: DiagMsg{Info: info(50)}, Settings: &t3, Traffic: flatline.StateIdle, Verdict: VerdictSlow}, VerdictSlow, true, 34.2225},
		{"too few segments", Socket{DiagMsg: DiagMsg{Info: &TCPInfo{TotalRetrans: 50, SegsOut: 100, HasSegsOut: true}}, Settings: &t3, Traffic: flatline.StateIdle, Verdict: VerdictOK}, VerdictOK, false, 0},
		{"options unreadable", Socket{DiagMsg: DiagMsg{Info: info(50)}, Traffic: flatline.StateIdle, Verdict: VerdictUnknown}, VerdictUnknown, false, 0},
		{"connecting: not modelled", Socket{DiagMsg: DiagMsg{Info: info(50)}, Settings: &t3, Traffic: flatline.StateConnecting, Verdict: VerdictOK}, VerdictOK, false, 0},
	} {
		s := tc.s
		judgeRisk(&s, flatline.Host{HZ: 250})
		if s.Verdict != tc.wantVerdict || s.RiskKnown != tc.wantKnown {
			t.Errorf("%s: verdict %s, known %v; want %s, %v", tc.name, s.Verdict, s.RiskKnown, tc.wantVerdict, tc.wantKnown)
		}
		if tc.wantKnown && (s.FalseKillsPerHour > tc.wantPerHour || s.FalseKillsPerHour < 0.75*tc.wantPerHour) {
			t.Errorf("%s: %v false kills per hour, want %v", tc.name, s.FalseKillsPerHour, tc.wantPerHour)
		}
		if s.Verdict == VerdictAtRisk && !strings.Contains(s.Reason, "times an hour") {
			t.Errorf("%s: reason %q does not say the risk", tc.name, s.Reason)
		}
	}
}
