package lab

import (
	"fmt"
	"io"
	"time"

	"github.com/flatline-dev/flatline/internal/svgchart"
	"github.com/flatline-dev/flatline/storm"
)

// stormChartBins bounds the bins a storm chart's panel draws: a longer run
// gets wider bins (storm.BinFor), which its y axis label names.
const stormChartBins = 4096

// WriteStormChart writes an SVG of a storm run: one panel per strategy,
// probes per bin over time as the router saw them, the link's tolerance
// (half the policer's burst: probes and answers share it) dashed, and
// false deaths as red marks at the bottom (one per bin).
func WriteStormChart(w io.Writer, r *StormResult, bin time.Duration) error {
	if bin <= 0 {
		bin = 32 * time.Millisecond
	}
	rows := len(r.Strategies)
	if rows == 0 {
		return fmt.Errorf("storm: chart: no strategies")
	}
	span := time.Duration((r.ObserveS + 1) * float64(time.Second))
	for _, s := range r.Strategies {
		for _, t := range s.ProbeTimes {
			span = max(span, t)
		}
	}
	if b := storm.BinFor(span, bin, stormChartBins); b != bin {
		bin = b.Truncate(time.Millisecond) + time.Millisecond // a label in whole ms
	}
	ymax := max(1.0, float64(r.Burst)/2)
	hists := make([][]int, rows)
	for i, s := range r.Strategies {
		hists[i] = storm.Histogram(s.ProbeTimes, 0, bin)
		for _, c := range hists[i] {
			ymax = max(ymax, float64(c))
		}
	}
	panels := make([]svgchart.Panel, rows)
	for i, s := range r.Strategies {
		p := svgchart.Panel{
			Title:  fmt.Sprintf("%s: worst burst %d (model %d), %d of %d falsely dead", s.Name, s.WorstBurst, s.PredictedWorstBurst, s.FalseDead, r.Conns),
			X:      svgchart.Axis{Min: 0, Max: r.ObserveS + 1},
			Y:      svgchart.Axis{Min: 0, Max: ymax * 1.05, Label: fmt.Sprintf("probes / %v", bin)},
			Legend: svgchart.TopRight,
		}
		if p.X.Max <= 0 {
			p.X.Max = span.Seconds()
		}
		if i == rows-1 {
			p.X.Label = "seconds since the connections opened"
		}
		probes := svgchart.Series{Color: "#1f77b4", Line: true, Points: make([]svgchart.Point, 0, 2*len(hists[i]))}
		for j, c := range hists[i] {
			x := (time.Duration(j) * bin).Seconds()
			probes.Points = append(probes.Points, svgchart.Point{X: x, Y: float64(c)}, svgchart.Point{X: x + bin.Seconds(), Y: float64(c)})
		}
		p.Series = append(p.Series, probes)
		tol := svgchart.Rule{Color: "#555555", Y: float64(r.Burst) / 2, Dashed: true}
		if i == 0 {
			tol.Name = fmt.Sprintf("link tolerance: %d probes at once", r.Burst/2)
		}
		p.Rules = append(p.Rules, tol)
		if len(s.DeadTimes) > 0 {
			// One mark per bin: marks closer than a bin overlap on the page.
			dead := svgchart.Series{Name: "false death", Color: "#d62728", Marker: svgchart.Plus}
			seen := map[time.Duration]bool{}
			for _, t := range s.DeadTimes {
				if k := t / bin; !seen[k] {
					seen[k] = true
					dead.Points = append(dead.Points, svgchart.Point{X: t.Seconds(), Y: 0})
				}
			}
			p.Series = append(p.Series, dead)
		}
		panels[i] = p
	}
	fig := svgchart.Figure{Width: 960, Height: min(max(svgchart.MinSize, 211*rows), svgchart.MaxSize), Panels: panels}
	if err := svgchart.Write(w, fig); err != nil {
		return fmt.Errorf("storm: chart: %w", err)
	}
	return nil
}
