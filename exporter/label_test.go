package exporter

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flatline-dev/flatline"
)

func TestLabelValue(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	for _, tc := range []struct{ in, want string }{
		{"postgres", "postgres"},
		{"", ""},
		{"\xff\xfebad", "\uFFFDbad"},
		{"a\nb\x7f\u0085c", "a?b??c"},
		{strings.Repeat("x", maxLabelBytes), strings.Repeat("x", maxLabelBytes)},
		{strings.Repeat("x", maxLabelBytes+1), strings.Repeat("x", maxLabelBytes-3) + "…"},
		{long, strings.Repeat("é", (maxLabelBytes-3)/2) + "…"},
	} {
		if got := labelValue(tc.in); got != tc.want {
			t.Errorf("labelValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzLabelValue: whatever bytes a process names itself or a namespace
// with, the label is valid UTF-8, bounded, free of control characters,
// stable when sanitised again, and the input itself when that was fine.
func FuzzLabelValue(f *testing.F) {
	for _, s := range []string{"\xff\xfebad", "nginx", "a\nb", strings.Repeat("€", 60), "\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := labelValue(s)
		if !utf8.ValidString(got) {
			t.Fatalf("labelValue(%q) = %q: not UTF-8", s, got)
		}
		if len(got) > maxLabelBytes {
			t.Fatalf("labelValue(%q) is %d bytes, over %d", s, len(got), maxLabelBytes)
		}
		if strings.ContainsFunc(got, isControl) {
			t.Fatalf("labelValue(%q) = %q holds a control character", s, got)
		}
		if again := labelValue(got); again != got {
			t.Fatalf("labelValue not stable: %q -> %q -> %q", s, got, again)
		}
		if utf8.ValidString(s) && len(s) <= maxLabelBytes && !strings.ContainsFunc(s, isControl) && got != s {
			t.Fatalf("labelValue(%q) = %q changed a valid label", s, got)
		}
	})
}

// TestCollectErrorShows: a series the registry refuses is counted and the
// scrape says flatline_scan_success 0, while every other family stays.
func TestCollectErrorShows(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := summarize(nil, 0, e.cfg.budget(), e.cfg.top())
	s.at, s.ok = time.Now(), true
	s.procs = []procRow{{pid: "\xff", comm: "x", sockets: 1}, {pid: "7", comm: "ok", sockets: 2}}
	e.snap.Store(s)
	mfs := gather(t, e)
	if got := mfs["flatline_scan_success"].GetMetric()[0].GetGauge().GetValue(); got != 0 {
		t.Errorf("flatline_scan_success = %v with a refused series, want 0", got)
	}
	if got := mfs["flatline_collect_errors_total"].GetMetric()[0].GetCounter().GetValue(); got != 2 {
		t.Errorf("flatline_collect_errors_total = %v, want 2 (sockets and over budget of the bad row)", got)
	}
	if got := len(mfs["flatline_process_sockets"].GetMetric()); got != 1 {
		t.Errorf("flatline_process_sockets has %d series, want the good row's 1", got)
	}
	for _, f := range []string{"flatline_uncovered", "flatline_socket_worst_case_seconds", "flatline_budget_seconds"} {
		if mfs[f] == nil {
			t.Errorf("%s missing", f)
		}
	}
}

// TestInodeReuseRestartsCounters: the death counters of a netns label
// restart at zero when the namespace behind the inode changes: a new
// cookie, or (without cookies) a namespace found again after a scan found
// it gone. The same namespace keeps its counts.
func TestInodeReuseRestartsCounters(t *testing.T) {
	e, err := New(Config{Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for _, step := range []struct {
		found []Namespace
		want  float64 // net:[5]'s reset deaths after the scan, one death recorded before it
	}{
		{[]Namespace{{ID: "net:[5]", Cookie: 11}}, 1},
		{[]Namespace{{ID: "net:[5]", Cookie: 11}}, 2},
		{[]Namespace{{ID: "net:[5]", Cookie: 12}}, 0}, // another namespace, same inode
		{[]Namespace{{ID: "net:[5]"}}, 1},             // cookie unreadable now: same as before
		{nil, 2},                                      // gone: counters stay
		{[]Namespace{{ID: "net:[5]"}}, 0},             // found again without cookies: a new one
	} {
		e.RecordDeath(Death{Cause: flatline.CauseReset, NetNS: 5})
		t0 = t0.Add(time.Second)
		e.trackNamespaces(step.found, t0)
		if got := deathCounts(t, e)["net:[5] reset"]; got != step.want {
			t.Fatalf("after scan finding %+v: reset deaths %v, want %v", step.found, got, step.want)
		}
	}
}

// TestUnscannedNamespaceWarnsOnce: a namespace that cannot be scanned is
// logged at Warn on the first failing scan only.
func TestUnscannedNamespaceWarnsOnce(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("discovery needs Linux")
	}
	dir := t.TempDir()
	// A name under the netns directory that is no namespace is skipped by
	// Discover; a process root whose only process has a link to a file
	// that is not a namespace fails its scan.
	proc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(proc, "42", "ns"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "42", "ns", "net"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	e, err := New(Config{ProcRoot: proc, NetNSDir: dir, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := e.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "namespace not scanned"); n != 1 {
		t.Errorf("%d warnings over 3 scans, want 1:\n%s", n, logs.String())
	}
}
