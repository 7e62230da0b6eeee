package svgchart

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

func write(t testing.TB, f Figure) *testutil.SVGNode {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return testutil.ParseSVG(t, buf.Bytes())
}

func TestLinearAndCategoryTicks(t *testing.T) {
	svg := write(t, Figure{Width: 640, Height: 400, Panels: []Panel{{
		Title: "measured", X: Axis{Categories: []string{"a", "b", "c"}}, Y: Axis{Label: "%"},
		Series: []Series{{Name: "killed", Color: "#1f77b4", Bar: 14, Points: []Point{{0, 3}, {1, 97}, {2, 41}}}},
	}}})
	if diff := cmp.Diff([]string{"a", "b", "c"}, svg.Texts("xtick")); diff != "" {
		t.Errorf("x ticks (-want +got):\n%s", diff)
	}
	// 0 to 97 with a bar from 0: the range is widened to whole steps of 20.
	if diff := cmp.Diff([]string{"0", "20", "40", "60", "80", "100"}, svg.Texts("ytick")); diff != "" {
		t.Errorf("y ticks (-want +got):\n%s", diff)
	}
	if got := len(svg.All(testutil.Class("series"))[0].All(testutil.Element("rect"))); got != 3 {
		t.Errorf("%d bars, want 3", got)
	}
	if diff := cmp.Diff([]string{"measured"}, svg.Texts("title")); diff != "" {
		t.Errorf("title (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"killed"}, svg.Texts("legend-entry")); diff != "" {
		t.Errorf("legend (-want +got):\n%s", diff)
	}
}

// TestLogScale: values spanning five decades get a labelled tick per
// power of ten, and the points keep their order on the page.
func TestLogScale(t *testing.T) {
	pts := []Point{{0, 0.002}, {1, 0.09}, {2, 3}, {3, 150}}
	svg := write(t, Figure{Width: 640, Height: 400, Panels: []Panel{{
		X: Axis{Min: -1, Max: 4}, Y: Axis{Log: true, Label: "seconds"},
		Series: []Series{{Name: "cells", Marker: Circle, Points: pts}},
		Rules:  []Rule{{Name: "T = 3s", Y: 3, Dashed: true}},
	}}})
	want := []string{"0.001", "0.01", "0.1", "1", "10", "100", "1000"}
	if diff := cmp.Diff(want, svg.Texts("ytick")); diff != "" {
		t.Errorf("y ticks (-want +got):\n%s", diff)
	}
	circles := svg.All(testutil.Class("series"))[0].All(testutil.Element("circle"))
	if len(circles) != len(pts) {
		t.Fatalf("%d circles for %d points", len(circles), len(pts))
	}
	// Equal ratios are equal distances: 0.09 → 3 → 150 are ×33.3 and ×50.
	y := func(i int) float64 {
		var v float64
		if _, err := fmt.Sscan(circles[i].Attr["cy"], &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i := 1; i < len(pts); i++ {
		if y(i) >= y(i-1) {
			t.Errorf("point %d (%g) is not above point %d (%g): y %v, %v", i, pts[i].Y, i-1, pts[i-1].Y, y(i), y(i-1))
		}
	}
	perDecade := (y(0) - y(3)) / math.Log10(150/0.002)
	if got, want := (y(2)-y(3))/perDecade, math.Log10(50); math.Abs(got-want) > 0.01 {
		t.Errorf("3 → 150 spans %.3f decades on the page, want %.3f", got, want)
	}
	if got := len(svg.All(testutil.Class("rule"))); got != 1 {
		t.Errorf("%d rules, want 1", got)
	}
	if diff := cmp.Diff([]string{"cells", "T = 3s"}, svg.Texts("legend-entry")); diff != "" {
		t.Errorf("legend (-want +got):\n%s", diff)
	}
}

func TestLogTicksWithinADecade(t *testing.T) {
	var got []string
	for _, tk := range logTicks(1, 10) {
		if tk.label != "" {
			got = append(got, tk.label)
		}
	}
	if diff := cmp.Diff([]string{"1", "2", "5", "10"}, got); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

// TestPanels: stacked panels, a series each, lines and markers counted.
func TestPanels(t *testing.T) {
	var panels []Panel
	for i := range 3 {
		panels = append(panels, Panel{
			Title: "panel", X: Axis{Min: 0, Max: 10, Label: "seconds"}, Y: Axis{Min: 0, Max: 50},
			Series: []Series{
				{Line: true, Color: "#1f77b4", Points: []Point{{0, 1}, {1, 1}, {1, 40}, {2, 40}}},
				{Name: "dead", Marker: Plus, Points: make([]Point, i)},
			},
		})
	}
	svg := write(t, Figure{Width: 960, Height: 3 * 220, Panels: panels})
	if got := len(svg.All(testutil.Class("panel"))); got != 3 {
		t.Errorf("%d panels, want 3", got)
	}
	if got := len(svg.All(testutil.Class("series"))); got != 6 {
		t.Errorf("%d series, want 6", got)
	}
	if got := len(svg.All(testutil.Element("polyline"))); got != 3 {
		t.Errorf("%d lines, want 3", got)
	}
	plus := 0
	for _, s := range svg.All(testutil.Class("series")) {
		plus += len(s.All(testutil.Element("path")))
	}
	if got := plus; got != 0+1+2 {
		t.Errorf("%d plus markers, want 3", got)
	}
	if diff := cmp.Diff([]string{"0", "10", "20", "30", "40", "50"}, svg.All(testutil.Class("panel"))[0].Texts("ytick")); diff != "" {
		t.Errorf("y ticks (-want +got):\n%s", diff)
	}
}

// TestNearlyEqual: values float64 barely tells apart still get a range.
func TestNearlyEqual(t *testing.T) {
	for _, ys := range [][2]float64{{1, 1 + 2e-16}, {1e12, 1e12 - 1e-4}, {-3, -3}, {0, 0}} {
		var buf bytes.Buffer
		f := Figure{Width: 400, Height: 300, Panels: []Panel{{Series: []Series{{Line: true, Points: []Point{{ys[0], ys[0]}, {ys[1], ys[1]}}}}}}}
		if err := Write(&buf, f); err != nil {
			t.Fatalf("%v: %v", ys, err)
		}
		if bytes.Contains(buf.Bytes(), []byte("NaN")) || bytes.Contains(buf.Bytes(), []byte("Inf")) {
			t.Errorf("%v: a coordinate is not a number", ys)
		}
		testutil.ParseSVG(t, buf.Bytes())
	}
}

// TestLegendPlaces: inside the plot area, top left or right, or outside
// it, right of the points (the plot area narrows).
func TestLegendPlaces(t *testing.T) {
	for _, tc := range []struct {
		place   LegendPlace
		outside bool
	}{{TopLeft, false}, {TopRight, false}, {Outside, true}} {
		svg := write(t, Figure{Width: 400, Height: 300, Panels: []Panel{{
			X: Axis{Min: 0, Max: 1}, Legend: tc.place,
			Series: []Series{{Name: "s", Marker: Circle, Points: []Point{{1, 1}}}},
		}}})
		var cx, lx float64
		fmt.Sscan(svg.All(testutil.Class("series"))[0].Kids[0].Attr["cx"], &cx)
		fmt.Sscan(svg.All(testutil.Class("legend"))[0].Kids[0].Attr["x"], &lx)
		if got := lx > cx; got != tc.outside {
			t.Errorf("legend %d: box at x %v, the rightmost point at %v", tc.place, lx, cx)
		}
	}
}

func TestWhiskers(t *testing.T) {
	svg := write(t, Figure{Width: 400, Height: 300, Panels: []Panel{{
		Series: []Series{{Marker: Circle, Points: []Point{{0, 2}, {1, 3}}, Whiskers: []Range{{1, 4}, {2, 5}}}},
	}}})
	if got := len(svg.All(testutil.Element("path"))); got != 2 {
		t.Errorf("%d whiskers, want 2", got)
	}
}

// TestHostileStrings: names a local process chose (a cell, a group, a
// label) cannot add elements, break the XML or reorder text on screen.
func TestHostileStrings(t *testing.T) {
	hostile := []string{
		`</text><script>alert(1)</script>`,
		`"/><rect onload="x" a='b'`,
		"a & b < c > d",
		"nul\x00bell\x07esc\x1b[31mred",
		"bad utf-8 \xff\xfe end",
		"\u202egnp.exe", // a right-to-left override
		"non-char \uFFFE\uFFFF",
		"]]> <![CDATA[",
		strings.Repeat("long ", 100),
	}
	for _, h := range hostile {
		svg := write(t, Figure{Width: 640, Height: 480, Panels: []Panel{{
			Title: h, X: Axis{Categories: []string{h, "ok"}, Label: h}, Y: Axis{Label: h},
			Series: []Series{{Name: h, Marker: Circle, Points: []Point{{0, 1}, {1, 2}}}},
			Rules:  []Rule{{Name: h, Y: 1.5}},
		}}})
		if n := len(svg.All(testutil.Element("script"))); n != 0 {
			t.Errorf("%q: %d script elements", h, n)
		}
		want := clean(h)
		for _, c := range []string{"title", "xlabel", "ylabel"} {
			if diff := cmp.Diff([]string{want}, svg.Texts(c)); diff != "" {
				t.Errorf("%q: %s (-want +got):\n%s", h, c, diff)
			}
		}
		if diff := cmp.Diff([]string{want, want}, svg.Texts("legend-entry")); diff != "" {
			t.Errorf("%q: legend (-want +got):\n%s", h, diff)
		}
		if diff := cmp.Diff([]string{cleanN(h, MaxTickLabel), "ok"}, svg.Texts("xtick")); diff != "" {
			t.Errorf("%q: x ticks (-want +got):\n%s", h, diff)
		}
		for _, r := range want {
			if r < 0x20 || r == '\u202e' || r == '\uFFFE' {
				t.Errorf("%q: kept %U", h, r)
			}
		}
		if n := len([]rune(want)); n > MaxLabel+1 {
			t.Errorf("%q: label of %d runes", h, n)
		}
	}
}

// TestEmpty: no data is a chart that says so, not an error.
func TestEmpty(t *testing.T) {
	for _, p := range []Panel{
		{Title: "nothing"},
		{Y: Axis{Log: true}, Series: []Series{{Name: "none"}}},
		{X: Axis{Categories: []string{"a"}}, Series: []Series{{Bar: 10}}},
	} {
		svg := write(t, Figure{Width: 400, Height: 300, Panels: []Panel{p}})
		if diff := cmp.Diff([]string{"no data"}, svg.Texts("empty")); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", p, diff)
		}
	}
}

func TestInvalid(t *testing.T) {
	ok := Panel{Series: []Series{{Points: []Point{{1, 1}}}}}
	with := func(edit func(*Panel)) Figure {
		p := ok
		p.Series = []Series{{Points: []Point{{1, 1}}}}
		edit(&p)
		return Figure{Width: 400, Height: 300, Panels: []Panel{p}}
	}
	for name, f := range map[string]Figure{
		"NaN":            with(func(p *Panel) { p.Series[0].Points[0].Y = math.NaN() }),
		"+Inf":           with(func(p *Panel) { p.Series[0].Points[0].X = math.Inf(1) }),
		"huge":           with(func(p *Panel) { p.Series[0].Points[0].X = 1e300 }),
		"zero on log":    with(func(p *Panel) { p.Y.Log = true; p.Series[0].Points[0].Y = 0 }),
		"rule on log":    with(func(p *Panel) { p.Y.Log = true; p.Rules = []Rule{{Y: -1}} }),
		"NaN rule":       with(func(p *Panel) { p.Rules = []Rule{{Y: math.NaN()}} }),
		"NaN whisker":    with(func(p *Panel) { p.Series[0].Whiskers = []Range{{math.NaN(), 1}} }),
		"whisker count":  with(func(p *Panel) { p.Series[0].Whiskers = []Range{{0, 1}, {1, 2}} }),
		"colour":         with(func(p *Panel) { p.Series[0].Color = `red" onload="x` }),
		"bar width":      with(func(p *Panel) { p.Series[0].Bar = math.NaN() }),
		"min above max":  with(func(p *Panel) { p.X.Min, p.X.Max = 2, 1 }),
		"log categories": with(func(p *Panel) { p.X.Log, p.X.Categories = true, []string{"a"} }),
		"y categories":   with(func(p *Panel) { p.Y.Categories = []string{"a"} }),
		"too many":       with(func(p *Panel) { p.Series[0].Points = make([]Point, MaxPoints+1) }),
		"too small":      {Width: 10, Height: 300, Panels: []Panel{ok}},
		"too large":      {Width: 400, Height: MaxSize + 1, Panels: []Panel{ok}},
		"no panels":      {Width: 400, Height: 300},
		"too short": {Width: 400, Height: 200, Panels: []Panel{
			{X: Axis{Categories: strings.Fields(strings.Repeat(strings.Repeat("x", 40)+" ", 10)), Label: "x"}, Title: "t"},
		}},
	} {
		var buf bytes.Buffer
		err := Write(&buf, f)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want an error matching ErrInvalid", name, err)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %d bytes with the error", name, buf.Len())
		}
	}
}

func FuzzLabels(f *testing.F) {
	f.Add("title", "series", "category", 1.0, 10.0, false)
	f.Add("</text>&\x00", "\xff\u202e", "]]>", 0.002, 150.0, true)
	f.Add("", "", "", math.NaN(), 0.0, true)
	f.Fuzz(func(t *testing.T, title, name, category string, y1, y2 float64, log bool) {
		fig := Figure{Width: 640, Height: 800, Panels: []Panel{{
			Title: title, X: Axis{Categories: []string{category, name}}, Y: Axis{Log: log, Label: name},
			Series: []Series{{Name: name, Marker: Triangle, Line: true, Points: []Point{{0, y1}, {1, y2}}}},
		}, {
			// The same values on a numeric x axis, as bars with whiskers.
			Series: []Series{{Bar: 4, Points: []Point{{y1, y2}, {y2, y1}}, Whiskers: []Range{{y1, y2}, {y2, y1}}}},
		}}}
		var buf bytes.Buffer
		if err := Write(&buf, fig); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not matching ErrInvalid: %v", err)
			}
			return
		}
		if bytes.Contains(buf.Bytes(), []byte("NaN")) || bytes.Contains(buf.Bytes(), []byte("Inf")) {
			t.Fatalf("a coordinate is not a number:\n%s", buf.Bytes())
		}
		svg := testutil.ParseSVG(t, buf.Bytes())
		if got, want := svg.Texts("title"), clean(title); title != "" && (len(got) != 1 || got[0] != want) {
			t.Errorf("title %q shown as %q, want %q", title, got, want)
		}
		var want []string // an empty category has a tick and no label
		for _, c := range []string{category, name} {
			if c != "" {
				want = append(want, cleanN(c, MaxTickLabel))
			}
		}
		if diff := cmp.Diff(want, svg.All(testutil.Class("panel"))[0].Texts("xtick")); diff != "" {
			t.Errorf("categories %q, %q (-want +got):\n%s", category, name, diff)
		}
	})
}
