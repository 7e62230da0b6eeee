package svgchart

import (
	"fmt"
	"math"
	"strings"
)

// Layout constants, px.
const (
	titleBand  = 26 // above a plot area with a title
	axisBand   = 18 // an axis label's line
	tickLength = 5
	gap        = 6
	rightPad   = 20
	minPlot    = 40 // the smallest plot area's side
	markerRoom = 5  // a marker's reach beyond its point
)

// Default colours.
const (
	black = "#000000"
	grey  = "#555555"
)

// panelPlan is a panel resolved for drawing: its ranges, ticks and scales.
type panelPlan struct {
	p              Panel
	x, y           scale
	xTicks, yTicks []tick
	empty          bool // no data: the panel says so
	rotate         bool // the x tick labels are turned upright
	top            float64
}

// render draws f, valid, into b: the plot areas share the widest panel's
// left margin and stand one above the other in bands of equal height.
func render(b *strings.Builder, f Figure) error {
	plans := make([]panelPlan, len(f.Panels))
	left := 0.0
	for i, p := range f.Panels {
		plans[i] = plan(p)
		left = math.Max(left, yMargin(plans[i]))
	}
	right := float64(f.Width) - rightPad
	for i := range plans {
		if _, w := plans[i].legend(); plans[i].p.Legend == Outside && w > 0 {
			right = math.Min(right, float64(f.Width)-gap-w-gap)
		}
	}
	if right-left < minPlot {
		return invalid("width %d px leaves the plot areas %.0f px: make the figure wider", f.Width, right-left)
	}
	bandH := float64(f.Height) / float64(len(f.Panels))
	fmt.Fprintf(b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">`+"\n",
		f.Width, f.Height, f.Width, f.Height, fontSize)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	for i := range plans {
		pp := &plans[i]
		pp.x.from, pp.x.to = left, right
		pp.top = float64(i) * bandH
		if err := pp.placeY(bandH); err != nil {
			return fmt.Errorf("panel %d (%q): %w", i+1, clean(pp.p.Title), err)
		}
		pp.draw(b, i)
	}
	b.WriteString("</svg>\n")
	return nil
}

// plan resolves p's ranges and ticks; the pixels come later.
func plan(p Panel) panelPlan {
	var xs, ys []float64
	bars := false
	for _, s := range p.Series {
		for _, pt := range s.Points {
			xs, ys = append(xs, pt.X), append(ys, pt.Y)
		}
		for _, r := range s.Whiskers {
			ys = append(ys, r.Low, r.High)
		}
		bars = bars || s.Bar > 0 && len(s.Points) > 0
	}
	empty := len(ys) == 0
	for _, r := range p.Rules {
		ys = append(ys, r.Y)
	}
	if bars && !p.Y.Log {
		ys = append(ys, 0)
	}
	pp := panelPlan{p: p, empty: empty}
	pp.x.min, pp.x.max = axisRange(p.X, xs)
	pp.y.min, pp.y.max = axisRange(p.Y, ys)
	pp.x.log, pp.y.log = p.X.Log, p.Y.Log
	pp.xTicks, pp.yTicks = ticks(p.X, pp.x.min, pp.x.max), ticks(p.Y, pp.y.min, pp.y.max)
	return pp
}

// yMargin is the room left of pp's plot area: tick labels and axis label.
func yMargin(pp panelPlan) float64 {
	w := 0.0
	for _, t := range pp.yTicks {
		w = math.Max(w, textWidth(t.label))
	}
	m := w + tickLength + 2*gap
	if pp.p.Y.Label != "" {
		m += axisBand
	}
	return m
}

// placeY fits the plot area in the band of height h from pp.top: the title
// above, the x tick labels (upright when a category's name is wider than
// its column) and the x axis label below.
func (pp *panelPlan) placeY(h float64) error {
	top := pp.top + gap
	if pp.p.Title != "" {
		top = pp.top + titleBand
	}
	labels := 0.0
	column := (pp.x.to - pp.x.from) / math.Max(1, float64(len(pp.p.X.Categories)))
	for _, t := range pp.xTicks {
		w := textWidth(t.label)
		labels = math.Max(labels, w)
		pp.rotate = pp.rotate || len(pp.p.X.Categories) > 0 && w > column-4
	}
	if !pp.rotate {
		labels = fontSize
	}
	bottom := pp.top + h - (tickLength + gap + labels + gap)
	if pp.p.X.Label != "" {
		bottom -= axisBand
	}
	if bottom-top < minPlot {
		return invalid("its plot area would be %.0f px high: make the figure taller or the labels shorter", bottom-top)
	}
	pp.y.from, pp.y.to = bottom, top
	return nil
}

func (pp *panelPlan) draw(b *strings.Builder, i int) {
	x0, x1, y0, y1 := pp.x.from, pp.x.to, pp.y.from, pp.y.to
	b.WriteString(`<g class="panel">` + "\n")
	if pp.p.Title != "" {
		fmt.Fprintf(b, `<text class="title" x="%.1f" y="%.1f" text-anchor="middle" font-size="14">%s</text>`+"\n",
			(x0+x1)/2, pp.top+titleBand-8, escaped(pp.p.Title))
	}
	// The clip leaves room for a marker on the frame.
	fmt.Fprintf(b, `<clipPath id="plot%d"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></clipPath>`+"\n",
		i, x0-markerRoom, y1-markerRoom, x1-x0+2*markerRoom, y0-y1+2*markerRoom)
	pp.drawGrid(b)
	fmt.Fprintf(b, `<g clip-path="url(#plot%d)">`+"\n", i)
	for _, s := range pp.p.Series {
		pp.drawSeries(b, s)
	}
	for _, r := range pp.p.Rules {
		y := pp.y.px(r.Y)
		fmt.Fprintf(b, `<line class="rule" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1"%s/>`+"\n",
			x0, y, x1, y, colorOr(r.Color, grey), dash(r.Dashed))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333333"/>`+"\n", x0, y1, x1-x0, y0-y1)
	pp.drawAxes(b)
	if pp.empty {
		fmt.Fprintf(b, `<text class="empty" x="%.1f" y="%.1f" text-anchor="middle" fill="%s">no data</text>`+"\n", (x0+x1)/2, (y0+y1)/2, grey)
	}
	pp.drawLegend(b)
	b.WriteString("</g>\n")
}

func (pp *panelPlan) drawGrid(b *strings.Builder) {
	for _, t := range pp.xTicks {
		if t.label != "" {
			x := pp.x.px(t.v)
			fmt.Fprintf(b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", x, pp.y.from, x, pp.y.to)
		}
	}
	for _, t := range pp.yTicks {
		if t.label != "" {
			y := pp.y.px(t.v)
			fmt.Fprintf(b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", pp.x.from, y, pp.x.to, y)
		}
	}
}

// drawAxes draws the ticks, their labels and the axis labels.
func (pp *panelPlan) drawAxes(b *strings.Builder) {
	x0, y0, y1 := pp.x.from, pp.y.from, pp.y.to
	for _, t := range pp.xTicks {
		x, l := pp.x.px(t.v), tickLength*minorScale(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`+"\n", x, y0, x, y0+l)
		switch {
		case t.label == "":
		case pp.rotate:
			fmt.Fprintf(b, `<text class="xtick" transform="translate(%.1f,%.1f) rotate(-90)" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n",
				x, y0+tickLength+gap, escaped(t.label))
		default:
			fmt.Fprintf(b, `<text class="xtick" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, y0+tickLength+gap+fontSize-2, escaped(t.label))
		}
	}
	for _, t := range pp.yTicks {
		y, l := pp.y.px(t.v), tickLength*minorScale(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`+"\n", x0-l, y, x0, y)
		if t.label != "" {
			fmt.Fprintf(b, `<text class="ytick" x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", x0-tickLength-gap, y, escaped(t.label))
		}
	}
	if pp.p.X.Label != "" {
		fmt.Fprintf(b, `<text class="xlabel" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", (x0+pp.x.to)/2, pp.labelsBottom()+axisBand-4, escaped(pp.p.X.Label))
	}
	if pp.p.Y.Label != "" {
		fmt.Fprintf(b, `<text class="ylabel" transform="translate(%.1f,%.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", fontSize+2.0, (y0+y1)/2, escaped(pp.p.Y.Label))
	}
}

// labelsBottom is where the x tick labels end.
func (pp *panelPlan) labelsBottom() float64 {
	h := float64(fontSize)
	if pp.rotate {
		for _, t := range pp.xTicks {
			h = math.Max(h, textWidth(t.label))
		}
	}
	return pp.y.from + tickLength + gap + h
}

func minorScale(t tick) float64 {
	if t.label == "" {
		return 0.6
	}
	return 1
}

func (pp *panelPlan) drawSeries(b *strings.Builder, s Series) {
	c := colorOr(s.Color, black)
	b.WriteString(`<g class="series">` + "\n")
	if s.Bar > 0 {
		base := pp.y.px(math.Min(math.Max(0, pp.y.min), pp.y.max))
		if pp.y.log {
			base = pp.y.from
		}
		for _, pt := range s.Points {
			x, y := pp.x.px(pt.X), pp.y.px(pt.Y)
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x-s.Bar/2, math.Min(y, base), s.Bar, math.Abs(base-y), c)
		}
	}
	if s.Line && len(s.Points) > 0 {
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="`, c, dash(s.Dashed))
		for i, pt := range s.Points {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(b, "%.1f,%.1f", pp.x.px(pt.X), pp.y.px(pt.Y))
		}
		b.WriteString(`"/>` + "\n")
	}
	for i, r := range s.Whiskers {
		x, lo, hi := pp.x.px(s.Points[i].X), pp.y.px(r.Low), pp.y.px(r.High)
		fmt.Fprintf(b, `<path d="M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f" stroke="%s" fill="none"/>`+"\n",
			x, lo, hi, x-4, lo, x+4, x-4, hi, x+4, c)
	}
	for _, pt := range s.Points {
		marker(b, s.Marker, pp.x.px(pt.X), pp.y.px(pt.Y), c)
	}
	b.WriteString("</g>\n")
}

func marker(b *strings.Builder, m Marker, x, y float64, c string) {
	switch m {
	case Circle:
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", x, y, c)
	case Triangle:
		fmt.Fprintf(b, `<path d="M%.1f %.1fL%.1f %.1fL%.1f %.1fZ" fill="%s"/>`+"\n", x, y-4.5, x+4.5, y+3.5, x-4.5, y+3.5, c)
	case Plus:
		fmt.Fprintf(b, `<path d="M%.1f %.1fH%.1fM%.1f %.1fV%.1f" stroke="%s" stroke-width="1.5"/>`+"\n", x-3.5, y, x+3.5, x, y-3.5, y+3.5, c)
	}
}

// legendEntry is a line of a legend: a name and how its series looks.
type legendEntry struct {
	name string
	s    Series
}

// legend returns the named series and rules and the width of their box.
func (pp *panelPlan) legend() (es []legendEntry, w float64) {
	for _, s := range pp.p.Series {
		if s.Name != "" {
			es = append(es, legendEntry{s.Name, s})
			w = math.Max(w, textWidth(s.Name))
		}
	}
	for _, r := range pp.p.Rules {
		if r.Name != "" {
			es = append(es, legendEntry{r.Name, Series{Color: colorOr(r.Color, grey), Line: true, Dashed: r.Dashed}})
			w = math.Max(w, textWidth(r.Name))
		}
	}
	if len(es) == 0 {
		return nil, 0
	}
	return es, w + 36
}

// drawLegend draws the legend's box where the panel says.
func (pp *panelPlan) drawLegend(b *strings.Builder) {
	es, w := pp.legend()
	if len(es) == 0 {
		return
	}
	x, y := pp.x.from+8, pp.y.to+8
	switch pp.p.Legend {
	case TopRight:
		x = pp.x.to - 8 - w
	case Outside:
		x, y = pp.x.to+gap, pp.y.to
	}
	fmt.Fprintf(b, `<g class="legend"><rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="#ffffff" fill-opacity="0.85" stroke="#cccccc"/>`+"\n",
		x, y, w, 16*len(es)+6)
	for i, e := range es {
		cy := y + 11 + 16*float64(i)
		c := colorOr(e.s.Color, black)
		switch {
		case e.s.Bar > 0:
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="16" height="8" fill="%s"/>`+"\n", x+6, cy-4, c)
		case e.s.Line:
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"%s/>`+"\n", x+6, cy, x+22, cy, c, dash(e.s.Dashed))
		}
		marker(b, e.s.Marker, x+14, cy, c)
		fmt.Fprintf(b, `<text class="legend-entry" x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>`+"\n", x+28, cy, escaped(e.name))
	}
	b.WriteString("</g>\n")
}

func colorOr(c, def string) string {
	if c == "" {
		return def
	}
	return c
}

func dash(on bool) string {
	if on {
		return ` stroke-dasharray="5 4"`
	}
	return ""
}
