package lab

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/flatline-dev/flatline/storm"
	"github.com/google/go-cmp/cmp"
)

func ip(v int) *[2]int { return &[2]int{v, v + 4} }

// TestWriteSoakChart: a bar per group that opened connections, a dot and
// whiskers per group with a prediction, the groups named on the x axis.
func TestWriteSoakChart(t *testing.T) {
	r := &SoakResult{Conns: 200, TimeoutS: 3, DurationS: 60, Groups: []SoakGroup{
		{Config: Flatline, Workload: SoakIdle, LossPct: 1, Opened: 200, Killed: 0, Predicted: f64(0.5), PredictedRange: &[2]int{0, 2}},
		{Config: GoDefault, Workload: SoakIdle, LossPct: 5, Opened: 200, Killed: 12, Predicted: f64(10), PredictedRange: ip(4)},
		{Config: "hostile</text>&", Workload: SoakTrickle, LossPct: 5, Opened: 100, Killed: 50},
		{Config: KeepaliveOnly, Workload: SoakIdle, LossPct: 5}, // opened none: no bar
	}}
	var buf bytes.Buffer
	if err := WriteSoakChart(&buf, r); err != nil {
		t.Fatal(err)
	}
	svg := testutil.ParseSVG(t, buf.Bytes())
	want := []string{"flatline/idle/1%", "go-default/idle/5%", "hostile</text>&/trickle/5%", "keepalive-only/idle/5%"}
	if diff := cmp.Diff(want, svg.Texts("xtick")); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	series := svg.All(testutil.Class("series"))
	if len(series) != 2 {
		t.Fatalf("%d series, want bars and the model", len(series))
	}
	if got := len(series[0].All(testutil.Element("rect"))); got != 3 {
		t.Errorf("%d bars, want 3", got)
	}
	if c, w := len(series[1].All(testutil.Element("circle"))), len(series[1].All(testutil.Element("path"))); c != 2 || w != 2 {
		t.Errorf("%d dots and %d whiskers, want 2 and 2", c, w)
	}
	// 0 to 50 %, widened to whole steps of 10.
	if diff := cmp.Diff([]string{"0", "10", "20", "30", "40", "50"}, svg.Texts("ytick")); diff != "" {
		t.Errorf("y ticks (-want +got):\n%s", diff)
	}
	if err := WriteSoakChart(&bytes.Buffer{}, &SoakResult{}); err == nil {
		t.Error("a soak without groups drew a chart")
	}
}

// TestWriteStormChart: a panel per strategy with its probes per bin as a
// step line, the policer's tolerance and a mark per bin of false deaths.
func TestWriteStormChart(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	r := &StormResult{Conns: 2000, Burst: 40, ObserveS: 3, Strategies: []StormStrategy{
		{Name: storm.Static, WorstBurst: 60, PredictedWorstBurst: 58, FalseDead: 3,
			ProbeTimes: ms(1000, 1001, 1002, 1003, 2000), DeadTimes: ms(2500, 2501, 2900)},
		{Name: storm.Flatline, WorstBurst: 2, PredictedWorstBurst: 2, ProbeTimes: ms(100, 900, 1700, 2500)},
		{Name: "empty"},
	}}
	var buf bytes.Buffer
	if err := WriteStormChart(&buf, r, 32*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	svg := testutil.ParseSVG(t, buf.Bytes())
	panels := svg.All(testutil.Class("panel"))
	if len(panels) != 3 {
		t.Fatalf("%d panels, want 3", len(panels))
	}
	wantTitles := []string{
		"static: worst burst 60 (model 58), 3 of 2000 falsely dead",
		"flatline: worst burst 2 (model 2), 0 of 2000 falsely dead",
		"empty: worst burst 0 (model 0), 0 of 2000 falsely dead",
	}
	for i, p := range panels {
		if diff := cmp.Diff([]string{wantTitles[i]}, p.Texts("title")); diff != "" {
			t.Errorf("panel %d title (-want +got):\n%s", i, diff)
		}
		// The static storm's 4 probes in one bin set the y axis of all.
		if diff := cmp.Diff([]string{"0", "5", "10", "15", "20"}, p.Texts("ytick")); diff != "" {
			t.Errorf("panel %d y ticks (-want +got):\n%s", i, diff)
		}
		if got := len(p.All(testutil.Class("rule"))); got != 1 {
			t.Errorf("panel %d: %d rules, want the tolerance", i, got)
		}
	}
	// Static: 2000 ms / 32 ms = 63 bins (2 points each) and deaths in 2 bins.
	var got []string
	for _, s := range panels[0].All(testutil.Class("series")) {
		line := s.All(testutil.Element("polyline"))
		pts := 0
		if len(line) == 1 {
			pts = len(strings.Fields(line[0].Attr["points"]))
		}
		got = append(got, fmt.Sprintf("%d points, %d marks", pts, len(s.All(testutil.Element("path")))))
	}
	if diff := cmp.Diff([]string{"126 points, 0 marks", "0 points, 2 marks"}, got); diff != "" {
		t.Errorf("static series (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"no data"}, panels[2].Texts("empty")); diff != "" {
		t.Errorf("empty strategy (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"seconds since the connections opened"}, svg.Texts("xlabel")); diff != "" {
		t.Errorf("x label (-want +got):\n%s", diff)
	}
}

// TestWriteStormChartLongRun: a run longer than stormChartBins bins of
// 32 ms draws wider bins, named on the y axis.
func TestWriteStormChartLongRun(t *testing.T) {
	r := &StormResult{Conns: 1, Burst: 4, ObserveS: 600, Strategies: []StormStrategy{
		{Name: storm.Static, ProbeTimes: []time.Duration{time.Second, 599 * time.Second}},
	}}
	var buf bytes.Buffer
	if err := WriteStormChart(&buf, r, 32*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	svg := testutil.ParseSVG(t, buf.Bytes())
	if diff := cmp.Diff([]string{"probes / 147ms"}, svg.Texts("ylabel")); diff != "" {
		t.Errorf("y label (-want +got):\n%s", diff)
	}
	line := svg.All(testutil.Element("polyline"))
	if len(line) != 1 || len(strings.Fields(line[0].Attr["points"]))/2 > stormChartBins {
		t.Errorf("want one line of at most %d bins", stormChartBins)
	}
}
