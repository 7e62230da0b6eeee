package lab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

func f64(v float64) *float64 { return &v }

// sampleResult is a hand-built run: the lesson in four cells.
func sampleResult() *Result {
	return &Result{TimeoutS: 3, Kernel: "6.18.0", Cells: []CellResult{
		{Workload: Idle, Fault: Blackhole, Config: GoDefault, ExpectedS: f64(150), CapS: 30, Verdict: Never},
		{Workload: Idle, Fault: Blackhole, Config: Flatline, ExpectedS: f64(3), DetectedS: f64(2.61), CapS: 30,
			Error: "read: connection timed out", Cause: "keepalive", Verdict: InTime},
		{Workload: Sending, Fault: Blackhole, Config: Flatline, ExpectedS: f64(3), DetectedS: f64(3.9), CapS: 30, SlackS: 0.23,
			Error: "write: connection timed out", Cause: "unacked-data", Verdict: Late, Rule: "TCP_USER_TIMEOUT"},
		{Workload: Idle, Fault: Blip, Config: Flatline, CapS: 30, Verdict: Survived},
	}}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, sampleResult()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"T = 3.00s, kernel 6.18.0, 4 cells",
		"blackhole        every packet dropped both ways",
		"2.61s ok",
		"3.90s LATE",
		"survived ok",
		"sending/blackhole/flatline: error after 3.90s, promised 3.00s",
		"Missed T = 3.00s: 2 of 3 cells",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sampleResult()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		TimeoutS float64          `json:"timeout_s"`
		Kernel   string           `json:"kernel"`
		Cells    []map[string]any `json:"cells"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, buf.String())
	}
	// The schema of issue 3: these keys, null for never, and one added key,
	// silent_after_s, which says when the promise started running.
	want := map[string]any{
		"workload": "idle", "fault": "blackhole", "config": "go-default",
		"expected_s": 150.0, "detected_s": nil, "cap_s": 30.0,
		"error": "", "cause": "", "verdict": "never", "silent_after_s": 0.0,
	}
	if diff := cmp.Diff(want, got.Cells[0]); diff != "" {
		t.Errorf("first cell mismatch (-want +got):\n%s", diff)
	}
	if got.TimeoutS != 3 || got.Kernel != "6.18.0" || len(got.Cells) != 4 {
		t.Errorf("header: timeout_s %v, kernel %q, %d cells; want 3, 6.18.0, 4", got.TimeoutS, got.Kernel, len(got.Cells))
	}
}

// TestWriteChart: a column per measured workload/fault, a series per
// configuration and kind (seen, never), T dashed, seconds on a log axis.
func TestWriteChart(t *testing.T) {
	r := sampleResult()
	r.Kernel = "6.18.0</text><script>x</script>"
	r.Cells = append(r.Cells, CellResult{Workload: Receiving, Fault: Blackhole, Config: Flatline, Verdict: Skipped, Error: "netem"})
	var buf bytes.Buffer
	if err := WriteChart(&buf, r); err != nil {
		t.Fatal(err)
	}
	svg := testutil.ParseSVG(t, buf.Bytes())
	if diff := cmp.Diff([]string{"idle/blackhole", "sending/blackhole", "idle/blip"}, svg.Texts("xtick")); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	// go-default saw nothing (a triangle, named); flatline saw two errors
	// (circles) and one blip survived (a triangle).
	series := svg.All(testutil.Class("series"))
	var shapes []string
	for _, s := range series {
		shapes = append(shapes, fmt.Sprintf("%s %d circles %d triangles", s.Kids[0].Attr["fill"],
			len(s.All(testutil.Element("circle"))), len(s.All(testutil.Element("path")))))
	}
	want := []string{
		configColor(GoDefault) + " 0 circles 1 triangles",
		configColor(Flatline) + " 2 circles 0 triangles",
		configColor(Flatline) + " 0 circles 1 triangles",
	}
	if diff := cmp.Diff(want, shapes); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"go-default", "flatline", "T = 3s"}, svg.Texts("legend-entry")); diff != "" {
		t.Errorf("legend (-want +got):\n%s", diff)
	}
	// 1.3 s (half the fastest) to 45 s (1.5 × the cap): 2, 5, 10, 20 s.
	if diff := cmp.Diff([]string{"2", "5", "10", "20"}, svg.Texts("ytick")); diff != "" {
		t.Errorf("y ticks (-want +got):\n%s", diff)
	}
	if got := svg.Texts("title"); len(got) != 1 || !strings.Contains(got[0], "kernel 6.18.0</text><script>x</script>") ||
		len(svg.All(testutil.Element("script"))) != 0 {
		t.Errorf("title %q: the kernel string is not text", got)
	}
}

func TestWriteChartNothingMeasured(t *testing.T) {
	r := &Result{TimeoutS: 3, Cells: []CellResult{{Workload: Idle, Fault: Blackhole, Config: Flatline, Verdict: Skipped}}}
	var buf bytes.Buffer
	if err := WriteChart(&buf, r); err == nil || buf.Len() != 0 {
		t.Errorf("got %v and %d bytes, want an error and nothing written", err, buf.Len())
	}
}

// TestSkippedSummary: skipped cells are summarised one line per reason.
func TestSkippedSummary(t *testing.T) {
	r := sampleResult()
	netem := "netem (sch_netem, CONFIG_NET_SCH_NETEM) for path faults: not supported"
	for _, w := range []Workload{Idle, Sending, Receiving} {
		r.Cells = append(r.Cells, CellResult{Workload: w, Fault: Blackhole, Config: Flatline, Verdict: Skipped, Error: netem})
	}
	r.Cells = append(r.Cells, CellResult{Workload: Idle, Fault: Blip, Config: GoDefault, Verdict: Skipped, Error: "other reason"})
	var buf bytes.Buffer
	if err := WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	i := strings.Index(out, "Skipped (this kernel cannot run them):\n")
	if i < 0 {
		t.Fatalf("no skipped summary in:\n%s", out)
	}
	lines := strings.SplitN(out[i:], "\n", 4)
	want := []string{
		"Skipped (this kernel cannot run them):",
		"  3 cells (idle/blackhole/flatline, sending/blackhole/flatline and 1 more): " + netem,
		"  1 cell (idle/blip/go-default): other reason",
	}
	if diff := cmp.Diff(want, lines[:3]); diff != "" {
		t.Errorf("skipped summary (-want +got):\n%s", diff)
	}
}
