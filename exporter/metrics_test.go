package exporter

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/diag"
	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
)

func sock(pid int, comm string, v diag.Verdict, worst time.Duration, never bool) diag.Socket {
	s := diag.Socket{Verdict: v, Worst: worst, Never: never, Known: v != diag.VerdictUnknown}
	s.Inode = 1
	if pid != 0 {
		s.Owners = []diag.Owner{{PID: pid, FD: 3, Comm: comm}}
		s.Settings = &flatline.Settings{}
	}
	return s
}

func TestSummarize(t *testing.T) {
	budget := 30 * time.Second
	results := []nsResult{
		{ns: Namespace{ID: "net:[1]", Inode: 1, PID: 1, Comm: "init"}, report: &diag.Report{Sockets: []diag.Socket{
			sock(100, "db", diag.VerdictOK, 4*time.Second, false),
			sock(100, "db", diag.VerdictSlow, 150*time.Second, false),
			sock(100, "db", diag.VerdictNever, 0, true),
			sock(200, "web", diag.VerdictNever, 0, true),
			sock(200, "web", diag.VerdictOK, 30*time.Second, false), // exactly the budget: within it
			sock(0, "", diag.VerdictUnknown, 0, false),
		}}},
		{ns: Namespace{ID: "net:[2]", Inode: 2, PID: 300, Comm: "pod"}, report: &diag.Report{Sockets: []diag.Socket{
			sock(300, "pod", diag.VerdictStuck, 900*time.Second, false),
			sock(400, "idle", diag.VerdictOK, time.Second, false),
		}}},
		{ns: Namespace{ID: "net:[3]", Inode: 3, PID: 500}, err: errors.New("operation not permitted")},
	}
	s := summarize(results, 7, budget, 2)

	gotNS := map[string]map[diag.Verdict]int{}
	for _, n := range s.namespaces {
		if n.scanned {
			gotNS[n.ns.ID] = n.byVerdict
		}
	}
	wantNS := map[string]map[diag.Verdict]int{
		"net:[1]": {diag.VerdictOK: 2, diag.VerdictSlow: 1, diag.VerdictNever: 2, diag.VerdictUnknown: 1},
		"net:[2]": {diag.VerdictStuck: 1, diag.VerdictOK: 1},
	}
	if d := cmp.Diff(wantNS, gotNS); d != "" {
		t.Errorf("verdicts by namespace (-want +got):\n%s", d)
	}

	// Finite, known worst cases: 4, 150, 30, 900, 1 s.
	if s.worst.count != 5 || s.worst.sum != 4+150+30+900+1 {
		t.Errorf("histogram count %d sum %v, want 5 and 1085", s.worst.count, s.worst.sum)
	}
	for le, want := range map[float64]uint64{1: 1, 5: 2, 30: 3, 120: 3, 300: 4, 900: 5, 10800: 5} {
		if got := s.worst.buckets[le]; got != want {
			t.Errorf("bucket le=%v: %d, want %d", le, got, want)
		}
	}

	// Top 2 by sockets over budget: db (2), web (1); pod (1 over, fewer
	// sockets) and idle folded; the unowned socket in "none".
	want := []procRow{
		{pid: "100", comm: "db", sockets: 3, over: 2, worst: 150 * time.Second, hasWorst: true},
		{pid: "200", comm: "web", sockets: 2, over: 1, worst: 30 * time.Second, hasWorst: true},
		{pid: pidOther, comm: pidOther, sockets: 2, over: 1, worst: 900 * time.Second, hasWorst: true},
		{pid: pidNone, comm: pidNone, sockets: 1},
	}
	if d := cmp.Diff(want, s.procs, cmp.AllowUnexported(procRow{})); d != "" {
		t.Errorf("processes (-want +got):\n%s", d)
	}
	wantUncovered := map[string]int{uncoveredNamespaces: 1, uncoveredProcesses: 7, uncoveredOwners: 1, uncoveredOptions: 0}
	if d := cmp.Diff(wantUncovered, s.uncovered); d != "" {
		t.Errorf("uncovered (-want +got):\n%s", d)
	}
}

func TestBucketsHoldTheBudget(t *testing.T) {
	for _, budget := range []time.Duration{30 * time.Second, 7 * time.Second, 2500 * time.Millisecond} {
		b := buckets(budget)
		n := 0
		for i, v := range b {
			if v == budget.Seconds() {
				n++
			}
			if i > 0 && b[i-1] >= v {
				t.Errorf("budget %v: bounds not increasing: %v", budget, b)
			}
		}
		if n != 1 {
			t.Errorf("budget %v: %d buckets at the budget, want 1: %v", budget, n, b)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string // substring of the error; empty: valid
	}{
		{Config{}, ""},
		{Config{Interval: time.Second, Budget: time.Minute, TopProcesses: 3}, ""},
		{Config{Interval: -time.Second}, "interval"},
		{Config{Interval: time.Millisecond}, "at least 100ms"},
		{Config{Budget: -1}, "budget"},
		{Config{TopProcesses: -1}, "top processes"},
	} {
		err := tc.c.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.c, err, tc.want)
		}
	}
}

// gather returns the exporter's metric families by name.
func gather(t *testing.T, e *Exporter) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func TestBeforeFirstScan(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	mfs := gather(t, e)
	if got := mfs["flatline_scan_success"].GetMetric()[0].GetGauge().GetValue(); got != 0 {
		t.Errorf("flatline_scan_success = %v before any scan, want 0", got)
	}
	if mfs["flatline_sockets"] != nil {
		t.Errorf("flatline_sockets served before any scan")
	}
	if mfs["flatline_deaths_total"] != nil {
		t.Errorf("flatline_deaths_total served before any scan found a namespace")
	}
}

func TestDeathSource(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fed := make(chan struct{})
	src := DeathSourceFunc(func(ctx context.Context, record func(Death)) error {
		record(Death{Cause: flatline.CauseKeepalive, NetNS: 7})
		record(Death{Cause: flatline.CauseKeepalive, NetNS: 7})
		record(Death{Cause: flatline.CauseUnacked, NetNS: 8})
		record(Death{Cause: flatline.CauseReset})
		close(fed)
		<-ctx.Done()
		return ctx.Err()
	})
	e, err := New(Config{Deaths: src, ProcRoot: t.TempDir(), NetNSDir: "-"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	<-fed
	got := deathCounts(t, e)
	want := map[string]float64{"net:[7] keepalive": 2, "net:[8] unacked-data": 1, " reset": 1}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("flatline_deaths_total (-want +got):\n%s", d)
	}
	if up := gather(t, e)["flatline_deaths_source_up"].GetMetric()[0].GetGauge().GetValue(); up != 1 {
		t.Errorf("flatline_deaths_source_up = %v while running, want 1", up)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v after cancel, want nil", err)
	}
	if up := gather(t, e)["flatline_deaths_source_up"].GetMetric()[0].GetGauge().GetValue(); up != 0 {
		t.Errorf("flatline_deaths_source_up = %v after stop, want 0", up)
	}
}

func TestDeathSourceFailsAndPanics(t *testing.T) {
	for name, src := range map[string]DeathSourceFunc{
		"fails":  func(context.Context, func(Death)) error { return errors.New("BPF not permitted") },
		"panics": func(context.Context, func(Death)) error { panic("boom") },
	} {
		t.Run(name, func(t *testing.T) {
			e, err := New(Config{Deaths: src, ProcRoot: t.TempDir(), NetNSDir: "-"})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			e.runDeaths(ctx) // returns when the source stops
			cancel()
			mfs := gather(t, e)
			if up := mfs["flatline_deaths_source_up"].GetMetric()[0].GetGauge().GetValue(); up != 0 {
				t.Errorf("flatline_deaths_source_up = %v, want 0", up)
			}
			var deaths float64
			for _, m := range mfs["flatline_scan_errors_total"].GetMetric() {
				if m.GetLabel()[0].GetValue() == "deaths" {
					deaths = m.GetCounter().GetValue()
				}
			}
			if deaths != 1 {
				t.Errorf(`flatline_scan_errors_total{stage="deaths"} = %v, want 1`, deaths)
			}
		})
	}
}

// lossySource is a death source that reports lost deaths.
type lossySource struct{ lost uint64 }

func (lossySource) Run(ctx context.Context, _ func(Death)) error { <-ctx.Done(); return nil }
func (l lossySource) Lost() (uint64, error)                      { return l.lost, nil }

func TestDeathsLost(t *testing.T) {
	e, err := New(Config{Deaths: lossySource{lost: 7}})
	if err != nil {
		t.Fatal(err)
	}
	mf := gather(t, e)["flatline_deaths_lost_total"]
	if mf == nil || mf.GetMetric()[0].GetCounter().GetValue() != 7 {
		t.Errorf("flatline_deaths_lost_total = %v, want 7", mf)
	}
	e, err = New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if mf := gather(t, e)["flatline_deaths_lost_total"]; mf != nil {
		t.Errorf("flatline_deaths_lost_total served without a source: %v", mf)
	}
}

// deathCounts returns flatline_deaths_total by "netns cause".
func deathCounts(t *testing.T, e *Exporter) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	mf := gather(t, e)["flatline_deaths_total"]
	for _, m := range mf.GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		got[l["netns"]+" "+l["cause"]] = m.GetCounter().GetValue()
	}
	return got
}

// TestDeathsPerNamespace: a namespace a scan finds gets zero counters for
// every kernel cause; its counters go evictAfter after it was last seen.
func TestDeathsPerNamespace(t *testing.T) {
	e, err := New(Config{Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	e.trackNamespaces([]Namespace{{ID: "net:[1]"}, {ID: "net:[2]"}}, t0)
	e.RecordDeath(Death{Cause: flatline.CauseKeepalive, NetNS: 2})
	got := deathCounts(t, e)
	if len(got) != 2*len(kernelCauses()) || got["net:[2] keepalive"] != 1 || got["net:[1] keepalive"] != 0 {
		t.Fatalf("after one scan and one death: %v", got)
	}
	// net:[2] is gone: its counters stay until evictAfter has passed.
	e.trackNamespaces([]Namespace{{ID: "net:[1]"}}, t0.Add(e.cfg.evictAfter()-time.Second))
	if got := deathCounts(t, e); got["net:[2] keepalive"] != 1 {
		t.Fatalf("net:[2]'s deaths gone before evictAfter: %v", got)
	}
	e.trackNamespaces([]Namespace{{ID: "net:[1]"}}, time.Now().Add(e.cfg.evictAfter()+time.Second))
	for k := range deathCounts(t, e) {
		if strings.HasPrefix(k, "net:[2]") {
			t.Errorf("net:[2]'s counters still served after evictAfter: %s", k)
		}
	}
}

// TestHandler serves /metrics in the exposition format, counts its own
// scrapes, and a page at / and nothing elsewhere.
func TestHandler(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get("/metrics")
	code, body := get("/metrics")
	if code != http.StatusOK || !strings.Contains(body, "flatline_scrape_duration_seconds_count 1") ||
		!strings.Contains(body, "flatline_scan_success 0") {
		t.Errorf("second GET /metrics: %d, want 200 with one scrape counted and no scan yet:\n%s", code, body)
	}
	if code, body := get("/"); code != http.StatusOK || !strings.Contains(body, `href="/metrics"`) {
		t.Errorf("GET /: %d %q", code, body)
	}
	if code, _ := get("/nope"); code != http.StatusNotFound {
		t.Errorf("GET /nope: %d, want 404", code)
	}
}

// TestSummarizeFalseKills: flatline_false_kills_expected_per_hour sums the
// sockets' expected false kills per namespace, where known.
func TestSummarizeFalseKills(t *testing.T) {
	risky := func(perHour float64) diag.Socket {
		s := sock(400, "idle", diag.VerdictAtRisk, 4*time.Second, false)
		s.RiskKnown, s.LossSeen, s.FalseKillsPerHour = true, 0.05, perHour
		return s
	}
	unknown := sock(400, "idle", diag.VerdictOK, time.Second, false)
	unknown.FalseKillsPerHour = 99 // not RiskKnown: left out
	results := []nsResult{
		{ns: Namespace{ID: "net:[1]", Inode: 1}, report: &diag.Report{Sockets: []diag.Socket{risky(0.25), risky(0.5), unknown}}},
		{ns: Namespace{ID: "net:[2]", Inode: 2}, report: &diag.Report{Sockets: []diag.Socket{unknown}}},
	}
	s := summarize(results, 0, 30*time.Second, 2)
	got := map[string]float64{}
	for _, n := range s.namespaces {
		got[n.ns.ID] = n.falseKills
	}
	if d := cmp.Diff(map[string]float64{"net:[1]": 0.75, "net:[2]": 0}, got); d != "" {
		t.Errorf("expected false kills per namespace (-want +got):\n%s", d)
	}
	if n := s.namespaces[0].byVerdict[diag.VerdictAtRisk]; n != 2 {
		t.Errorf("%d at-risk sockets, want 2", n)
	}
}
