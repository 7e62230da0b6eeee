package lab

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// configColor tells the configurations apart in the chart.
func configColor(c ConfigName) color.RGBA {
	switch c {
	case GoDefault:
		return color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	case KeepaliveOnly:
		return color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	case KeepaliveUserTimeout:
		return color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	case Enforced:
		return color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}
	case Applied:
		return color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}
	case FlatlineHeartbeat:
		return color.RGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}
	default:
		return color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	}
}

// WriteChart writes a PNG of r: detection time per cell on a log scale, one
// column per workload/fault, one colour per configuration; a triangle at the
// cap means no error within it (never). T is the dashed line.
func WriteChart(w io.Writer, r *Result) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("flatline lab: time from fault to first error (T = %gs, kernel %s)", r.TimeoutS, r.Kernel)
	p.Y.Label.Text = "seconds (log scale; triangle: nothing within the cap)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true

	// Columns: workload/fault pairs in table order, only those measured.
	var names []string
	column := map[[2]string]int{}
	present := map[[2]string]bool{}
	for _, c := range r.Cells {
		present[[2]string{string(c.Workload), string(c.Fault)}] = true
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
	capS, minS := 0.0, math.Inf(1)
	for _, c := range r.Cells {
		capS = math.Max(capS, c.CapS)
		if c.DetectedS != nil && *c.DetectedS > 0 {
			minS = math.Min(minS, *c.DetectedS)
		}
	}
	floor := math.Max(1e-3, math.Min(minS, r.TimeoutS)/2)

	for i, cfg := range Configs() {
		var seen, never plotter.XYs
		// Offset the configurations within a column so they do not overlap.
		dx := (float64(i) - float64(len(Configs())-1)/2) * 0.16
		for _, c := range r.Cells {
			if c.Config != cfg {
				continue
			}
			x := float64(column[[2]string{string(c.Workload), string(c.Fault)}]) + dx
			if c.DetectedS == nil {
				never = append(never, plotter.XY{X: x, Y: capS})
				continue
			}
			seen = append(seen, plotter.XY{X: x, Y: math.Max(*c.DetectedS, floor)})
		}
		col := configColor(cfg)
		if len(seen) > 0 {
			s, err := plotter.NewScatter(seen)
			if err != nil {
				return fmt.Errorf("lab: chart: %w", err)
			}
			s.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
			p.Add(s)
			p.Legend.Add(string(cfg), s)
		}
		if len(never) > 0 {
			s, err := plotter.NewScatter(never)
			if err != nil {
				return fmt.Errorf("lab: chart: %w", err)
			}
			s.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3.5), Shape: draw.TriangleGlyph{}}
			p.Add(s)
			if len(seen) == 0 {
				p.Legend.Add(string(cfg), s)
			}
		}
	}
	tLine := plotter.NewFunction(func(float64) float64 { return r.TimeoutS })
	tLine.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	tLine.Width = vg.Points(1)
	p.Add(tLine)
	p.Legend.Add(fmt.Sprintf("T = %gs", r.TimeoutS), tLine)

	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	p.Y.Min, p.Y.Max = floor, capS*1.5
	p.Add(plotter.NewGrid())

	width := vg.Length(math.Max(8, 0.3*float64(len(names)))) * vg.Inch
	wt, err := p.WriterTo(width, 6*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("lab: chart: %w", err)
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("lab: chart: %w", err)
	}
	return nil
}
