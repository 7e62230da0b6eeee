package lab

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WriteSoakChart writes a PNG of a soak: per group, the share of
// connections killed (bar) beside the model's expectation (dot) and its
// 95 % Poisson interval (whiskers).
func WriteSoakChart(w io.Writer, r *SoakResult) error {
	n := len(r.Groups)
	if n == 0 {
		return fmt.Errorf("soak: chart: no groups")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("false kills in %gs at T = %gs: measured (bars) and model (dots, 95 %% interval)", r.DurationS, r.TimeoutS)
	p.Y.Label.Text = "connections killed, % of opened"
	measured := make(plotter.Values, n)
	var model plotter.XYs
	var whisk plotter.YErrors
	names := make([]string, n)
	for i, g := range r.Groups {
		names[i] = g.Name()
		if g.Opened == 0 {
			continue
		}
		pct := func(k float64) float64 { return 100 * k / float64(g.Opened) }
		measured[i] = pct(float64(g.Killed))
		if g.Predicted != nil {
			y := pct(*g.Predicted)
			model = append(model, plotter.XY{X: float64(i), Y: y})
			whisk = append(whisk, struct{ Low, High float64 }{y - pct(float64(g.PredictedRange[0])), pct(float64(g.PredictedRange[1])) - y})
		}
	}
	bars, err := plotter.NewBarChart(measured, vg.Points(14))
	if err != nil {
		return fmt.Errorf("soak: chart: %w", err)
	}
	bars.Color = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	bars.LineStyle.Width = 0
	p.Add(bars)
	if len(model) > 0 {
		pts := struct {
			plotter.XYs
			plotter.YErrors
		}{model, whisk}
		sc, err := plotter.NewScatter(model)
		if err != nil {
			return fmt.Errorf("soak: chart: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		eb, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return fmt.Errorf("soak: chart: %w", err)
		}
		eb.Color = sc.GlyphStyle.Color
		p.Add(sc, eb)
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.9
	p.X.Tick.Label.XAlign = draw.XRight
	p.Y.Min = 0
	c := vgimg.PngCanvas{Canvas: vgimg.New(vg.Points(float64(max(600, 48*n))), vg.Points(480))}
	p.Draw(draw.New(c))
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("soak: chart: %w", err)
	}
	return nil
}
