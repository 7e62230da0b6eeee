package lab

import (
	"fmt"
	"io"
	"math"

	"github.com/flatline-dev/flatline/internal/svgchart"
)

// configColor tells the configurations apart in the chart.
func configColor(c ConfigName) string {
	switch c {
	case GoDefault:
		return "#d62728"
	case KeepaliveOnly:
		return "#ff7f0e"
	case KeepaliveUserTimeout:
		return "#1f77b4"
	case Enforced:
		return "#9467bd"
	case Applied:
		return "#8c564b"
	case FlatlineHeartbeat:
		return "#e377c2"
	default:
		return "#2ca02c"
	}
}

// WriteChart writes an SVG of r: detection time per cell on a log scale,
// one column per workload/fault, one colour per configuration; a triangle
// at the cap means no error within it (never). T is the dashed line. Cells
// that were not measured (skipped, errored) are left out; a result with
// no measured cell is an error.
func WriteChart(w io.Writer, r *Result) error {
	// Columns: workload/fault pairs in table order, only those measured.
	var names []string
	column := map[[2]string]int{}
	present := map[[2]string]bool{}
	capS, minS := 0.0, math.Inf(1)
	for _, c := range r.Cells {
		if c.Verdict == Skipped || c.Verdict == Errored {
			continue
		}
		present[[2]string{string(c.Workload), string(c.Fault)}] = true
		capS = math.Max(capS, c.CapS)
		if c.DetectedS != nil && *c.DetectedS > 0 {
			minS = math.Min(minS, *c.DetectedS)
		}
	}
	if len(present) == 0 {
		return fmt.Errorf("lab: chart: no measured cell in the result")
	}
	for _, f := range MatrixFaults() {
		for _, wl := range Workloads() {
			k := [2]string{string(wl), string(f)}
			if present[k] {
				column[k] = len(names)
				names = append(names, string(wl)+"/"+string(f))
			}
		}
	}
	floor := math.Max(1e-3, math.Min(minS, r.TimeoutS)/2)
	capS = math.Max(capS, math.Max(r.TimeoutS, floor)*2)

	p := svgchart.Panel{
		Title: fmt.Sprintf("flatline lab: time from fault to first error (T = %gs, kernel %s)", r.TimeoutS, r.Kernel),
		X:     svgchart.Axis{Categories: names},
		Y:     svgchart.Axis{Log: true, Min: floor, Max: capS * 1.5, Label: "seconds (log scale; triangle: nothing within the cap)"},
		Rules: []svgchart.Rule{{Name: fmt.Sprintf("T = %gs", r.TimeoutS), Y: r.TimeoutS, Dashed: true}},
		// Outside: inside, it would hide the first columns' triangles.
		Legend: svgchart.Outside,
	}
	for i, cfg := range Configs() {
		seen := svgchart.Series{Name: string(cfg), Color: configColor(cfg), Marker: svgchart.Circle}
		never := svgchart.Series{Color: seen.Color, Marker: svgchart.Triangle}
		// Offset the configurations within a column so they do not overlap.
		dx := (float64(i) - float64(len(Configs())-1)/2) * 0.16
		for _, c := range r.Cells {
			if c.Config != cfg || c.Verdict == Skipped || c.Verdict == Errored {
				continue
			}
			x := float64(column[[2]string{string(c.Workload), string(c.Fault)}]) + dx
			if c.DetectedS == nil {
				never.Points = append(never.Points, svgchart.Point{X: x, Y: capS})
				continue
			}
			seen.Points = append(seen.Points, svgchart.Point{X: x, Y: math.Max(*c.DetectedS, floor)})
		}
		if len(seen.Points) > 0 {
			p.Series = append(p.Series, seen)
		} else {
			never.Name = seen.Name // the legend shows the triangle
		}
		if len(never.Points) > 0 {
			p.Series = append(p.Series, never)
		}
	}
	width := min(max(768, 29*len(names))+200, svgchart.MaxSize) // 200 px: the legend
	if err := svgchart.Write(w, svgchart.Figure{Width: width, Height: 640, Panels: []svgchart.Panel{p}}); err != nil {
		return fmt.Errorf("lab: chart: %w", err)
	}
	return nil
}
