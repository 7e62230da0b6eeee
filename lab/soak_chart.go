package lab

import (
	"fmt"
	"io"

	"github.com/flatline-dev/flatline/internal/svgchart"
)

// WriteSoakChart writes an SVG of a soak: per group, the share of
// connections killed (bar) beside the model's expectation (dot) and its
// 95 % Poisson interval (whiskers). Groups that opened no connection have
// no bar.
func WriteSoakChart(w io.Writer, r *SoakResult) error {
	n := len(r.Groups)
	if n == 0 {
		return fmt.Errorf("soak: chart: no groups")
	}
	measured := svgchart.Series{Name: "killed (measured)", Color: "#1f77b4", Bar: 14}
	model := svgchart.Series{Name: "model, 95 % interval", Color: "#d62728", Marker: svgchart.Circle}
	names := make([]string, n)
	for i, g := range r.Groups {
		names[i] = g.Name()
		if g.Opened <= 0 {
			continue
		}
		pct := func(k float64) float64 { return 100 * k / float64(g.Opened) }
		x := float64(i)
		measured.Points = append(measured.Points, svgchart.Point{X: x, Y: pct(float64(g.Killed))})
		if g.Predicted != nil && g.PredictedRange != nil {
			model.Points = append(model.Points, svgchart.Point{X: x, Y: pct(*g.Predicted)})
			model.Whiskers = append(model.Whiskers, svgchart.Range{Low: pct(float64(g.PredictedRange[0])), High: pct(float64(g.PredictedRange[1]))})
		}
	}
	p := svgchart.Panel{
		Title:  fmt.Sprintf("false kills in %gs at T = %gs: measured (bars) and model (dots, 95 %% interval)", r.DurationS, r.TimeoutS),
		X:      svgchart.Axis{Categories: names},
		Y:      svgchart.Axis{Label: "connections killed, % of opened"},
		Series: []svgchart.Series{measured, model},
		Legend: svgchart.TopRight,
	}
	width := min(max(800, 64*n), svgchart.MaxSize)
	if err := svgchart.Write(w, svgchart.Figure{Width: width, Height: 640, Panels: []svgchart.Panel{p}}); err != nil {
		return fmt.Errorf("soak: chart: %w", err)
	}
	return nil
}
