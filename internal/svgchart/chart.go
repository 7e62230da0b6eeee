package svgchart

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Bounds on a figure: Write refuses anything larger.
const (
	MinSize       = 200    // px, a figure's smallest width and height
	MaxSize       = 16384  // px, its largest
	MaxLabel      = 120    // runes of a string kept; longer ones end in "…"
	MaxTickLabel  = 40     // runes of a category's name kept
	MaxPoints     = 200000 // points (and whiskers) in all series of a figure
	MaxSeries     = 64     // series and rules in one panel
	MaxCategories = 4096   // categories on one axis
	MaxPanels     = 64     // panels in a figure
	MaxAbs        = 1e12   // the largest magnitude of a value
	MinLog        = 1e-12  // the smallest value on a log axis
)

// ErrInvalid is what Write's errors match when the figure cannot be
// drawn as given.
var ErrInvalid = errors.New("svgchart: invalid figure")

// Marker is the shape drawn at each point of a series.
type Marker uint8

// Markers.
const (
	NoMarker Marker = iota
	Circle
	Triangle
	Plus
)

// Point is one value, in axis units (a category's index on a categorical
// x axis).
type Point struct{ X, Y float64 }

// Range is a vertical interval, in y axis units.
type Range struct{ Low, High float64 }

// Series is one set of points, drawn in one colour.
type Series struct {
	Name   string // its legend entry; "" leaves it out of the legend
	Color  string // "#rrggbb"; "" is black
	Points []Point
	Line   bool // joins the points in their order
	Dashed bool // with Line: dashed
	Marker Marker
	// Bar, when positive, draws a bar this many px wide from the y axis's
	// base (0 on a linear axis that holds it, else its minimum) to each
	// point.
	Bar float64
	// Whiskers is nil or one interval per point, drawn as a vertical line
	// with caps at the point's x.
	Whiskers []Range
}

// Rule is a horizontal line across a panel, at Y.
type Rule struct {
	Name   string // its legend entry; "" leaves it out
	Color  string // "#rrggbb"; "" is grey
	Y      float64
	Dashed bool
}

// Axis is one axis of a panel.
type Axis struct {
	Label string
	Log   bool // base-10 logarithmic; every value must be positive
	// Min and Max fix the axis's range; equal (both zero), the range is
	// the data's, widened to whole ticks.
	Min, Max float64
	// Categories, on an x axis, name the positions 0, 1, …: the axis runs
	// from -0.5 to len-0.5 and has a tick with the name at each.
	Categories []string
}

// Panel is one chart: axes, series, rules and a legend.
type Panel struct {
	Title  string
	X, Y   Axis
	Series []Series
	Rules  []Rule
	Legend LegendPlace
}

// LegendPlace is where a panel's legend goes.
type LegendPlace uint8

// Legend places.
const (
	TopLeft  LegendPlace = iota // inside the plot area, top left
	TopRight                    // inside the plot area, top right
	// Outside is right of the plot area, which narrows to make room (the
	// plot areas of all panels stay aligned).
	Outside
)

// Figure is what Write draws: panels stacked top to bottom, each of the
// same height, their plot areas aligned.
type Figure struct {
	Width, Height int // px, each in [MinSize, MaxSize]
	Panels        []Panel
}

// Write writes f to w as one SVG document. It checks the whole figure
// first and writes nothing when the figure is invalid (an error matching
// ErrInvalid that names the panel, series and point).
func Write(w io.Writer, f Figure) error {
	if err := f.validate(); err != nil {
		return err
	}
	var b strings.Builder
	if err := render(&b, f); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func (f Figure) validate() error {
	if f.Width < MinSize || f.Width > MaxSize || f.Height < MinSize || f.Height > MaxSize {
		return invalid("size %dx%d px: width and height must be in [%d, %d]", f.Width, f.Height, MinSize, MaxSize)
	}
	if len(f.Panels) == 0 || len(f.Panels) > MaxPanels {
		return invalid("%d panels: a figure has 1 to %d", len(f.Panels), MaxPanels)
	}
	points := 0
	for i, p := range f.Panels {
		if err := p.validate(); err != nil {
			return fmt.Errorf("panel %d (%q): %w", i+1, clean(p.Title), err)
		}
		for _, s := range p.Series {
			points += len(s.Points) + len(s.Whiskers)
		}
	}
	if points > MaxPoints {
		return invalid("%d points: at most %d in a figure (fewer bins or fewer series)", points, MaxPoints)
	}
	return nil
}

func (p Panel) validate() error {
	if len(p.Series)+len(p.Rules) > MaxSeries {
		return invalid("%d series and rules: at most %d", len(p.Series)+len(p.Rules), MaxSeries)
	}
	if err := p.X.validate("x"); err != nil {
		return err
	}
	if err := p.Y.validate("y"); err != nil {
		return err
	}
	if len(p.Y.Categories) > 0 {
		return invalid("y axis: categories are for the x axis")
	}
	for _, s := range p.Series {
		if err := s.validate(p.X, p.Y); err != nil {
			return fmt.Errorf("series %q: %w", clean(s.Name), err)
		}
	}
	for _, r := range p.Rules {
		if err := checkColor(r.Color); err != nil {
			return fmt.Errorf("rule %q: %w", clean(r.Name), err)
		}
		if err := p.Y.check(r.Y); err != nil {
			return fmt.Errorf("rule %q: y: %w", clean(r.Name), err)
		}
	}
	return nil
}

func (a Axis) validate(name string) error {
	if len(a.Categories) > MaxCategories {
		return invalid("%s axis: %d categories, at most %d", name, len(a.Categories), MaxCategories)
	}
	if len(a.Categories) > 0 && a.Log {
		return invalid("%s axis: categories on a log axis", name)
	}
	if a.Min == a.Max {
		return nil
	}
	for _, v := range []float64{a.Min, a.Max} {
		if err := a.check(v); err != nil {
			return fmt.Errorf("%s axis range: %w", name, err)
		}
	}
	if a.Min > a.Max {
		return invalid("%s axis: Min %g is above Max %g", name, a.Min, a.Max)
	}
	return nil
}

// check says why v cannot be drawn on a.
func (a Axis) check(v float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return invalid("%g is not a finite number", v)
	case math.Abs(v) > MaxAbs:
		return invalid("%g is beyond ±%g", v, MaxAbs)
	case a.Log && v < MinLog:
		return invalid("%g on a log axis (values must be at least %g)", v, MinLog)
	}
	return nil
}

func (s Series) validate(x, y Axis) error {
	if err := checkColor(s.Color); err != nil {
		return err
	}
	if s.Whiskers != nil && len(s.Whiskers) != len(s.Points) {
		return invalid("%d whiskers for %d points", len(s.Whiskers), len(s.Points))
	}
	if math.IsNaN(s.Bar) || s.Bar < 0 || s.Bar > MaxSize {
		return invalid("bar width %g px", s.Bar)
	}
	for i, pt := range s.Points {
		if err := x.check(pt.X); err != nil {
			return fmt.Errorf("point %d: x: %w", i+1, err)
		}
		if err := y.check(pt.Y); err != nil {
			return fmt.Errorf("point %d: y: %w", i+1, err)
		}
	}
	for i, r := range s.Whiskers {
		if err := y.check(r.Low); err != nil {
			return fmt.Errorf("whisker %d: low: %w", i+1, err)
		}
		if err := y.check(r.High); err != nil {
			return fmt.Errorf("whisker %d: high: %w", i+1, err)
		}
	}
	return nil
}

func checkColor(c string) error {
	if c == "" {
		return nil
	}
	ok := len(c) == 7 && c[0] == '#'
	for i := 1; ok && i < len(c); i++ {
		ok = strings.IndexByte("0123456789abcdefABCDEF", c[i]) >= 0
	}
	if !ok {
		return invalid("colour %q: want #rrggbb", clean(c))
	}
	return nil
}
