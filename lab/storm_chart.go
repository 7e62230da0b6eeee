package lab

import (
	"fmt"
	"image/color"
	"io"
	"time"

	"github.com/flatline-dev/flatline/storm"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WriteStormChart writes a PNG of a storm run: one panel per strategy, probes
// per bin over time as the router saw them, the link's tolerance (half the
// policer's burst: probes and answers share it) dashed, and false deaths
// as red marks at the bottom.
func WriteStormChart(w io.Writer, r *StormResult, bin time.Duration) error {
	if bin <= 0 {
		bin = 32 * time.Millisecond
	}
	rows := len(r.Strategies)
	if rows == 0 {
		return fmt.Errorf("storm: chart: no strategies")
	}
	ymax := 1.0
	hists := make([][]int, rows)
	for i, s := range r.Strategies {
		hists[i] = storm.Histogram(s.ProbeTimes, 0, bin)
		for _, c := range hists[i] {
			ymax = max(ymax, float64(c))
		}
	}
	plots := make([][]*plot.Plot, rows)
	for i, s := range r.Strategies {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s: worst burst %d (model %d), %d of %d falsely dead", s.Name, s.WorstBurst, s.PredictedWorstBurst, s.FalseDead, r.Conns)
		p.Y.Label.Text = fmt.Sprintf("probes / %v", bin)
		if i == rows-1 {
			p.X.Label.Text = "seconds since the connections opened"
		}
		xy := make(plotter.XYs, 0, 2*len(hists[i]))
		for j, c := range hists[i] {
			x := (time.Duration(j) * bin).Seconds()
			xy = append(xy, plotter.XY{X: x, Y: float64(c)}, plotter.XY{X: x + bin.Seconds(), Y: float64(c)})
		}
		if len(xy) > 0 {
			l, err := plotter.NewLine(xy)
			if err != nil {
				return fmt.Errorf("storm: chart: %w", err)
			}
			l.Color = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
			p.Add(l)
		}
		tol := plotter.NewFunction(func(float64) float64 { return float64(r.Burst) / 2 })
		tol.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		tol.Color = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}
		p.Add(tol)
		if i == 0 {
			p.Legend.Add(fmt.Sprintf("link tolerance: %d probes at once", r.Burst/2), tol)
			p.Legend.Top = true
		}
		if len(s.DeadTimes) > 0 {
			dead := make(plotter.XYs, len(s.DeadTimes))
			for j, t := range s.DeadTimes {
				dead[j] = plotter.XY{X: t.Seconds(), Y: 0}
			}
			sc, err := plotter.NewScatter(dead)
			if err != nil {
				return fmt.Errorf("storm: chart: %w", err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, Radius: vg.Points(2), Shape: draw.PlusGlyph{}}
			p.Add(sc)
			p.Legend.Add("false death", sc)
			p.Legend.Top = true
		}
		p.Y.Min, p.Y.Max = 0, ymax*1.05
		p.X.Min, p.X.Max = 0, r.ObserveS+1
		p.Add(plotter.NewGrid())
		plots[i] = []*plot.Plot{p}
	}
	width, height := 10*vg.Inch, vg.Length(2.2*float64(rows))*vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	t := draw.Tiles{Rows: rows, Cols: 1, PadY: vg.Points(6), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(plots, t, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	png := vgimg.PngCanvas{Canvas: img}
	if _, err := png.WriteTo(w); err != nil {
		return fmt.Errorf("storm: chart: %w", err)
	}
	return nil
}
