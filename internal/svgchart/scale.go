package svgchart

import (
	"math"
	"strconv"
)

// scale maps an axis's values onto pixels: Min to From, Max to To.
type scale struct {
	min, max float64
	log      bool
	from, to float64
}

func (s scale) px(v float64) float64 {
	lo, hi := s.min, s.max
	if s.log {
		v, lo, hi = math.Log10(v), math.Log10(lo), math.Log10(hi)
	}
	return s.from + (v-lo)/(hi-lo)*(s.to-s.from)
}

// tick is a position on an axis; label "" is a minor tick.
type tick struct {
	v     float64
	label string
}

// axisRange returns the range a draws: its own, the categories', or the
// data's widened to whole ticks (1 to 10 or 0 to 1 without data).
func axisRange(a Axis, data []float64) (lo, hi float64) {
	switch {
	case len(a.Categories) > 0:
		return -0.5, float64(len(a.Categories)) - 0.5
	case a.Min != a.Max:
		return a.Min, a.Max
	case len(data) == 0 && a.Log:
		return 1, 10
	case len(data) == 0:
		return 0, 1
	}
	lo, hi = data[0], data[0]
	for _, v := range data {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if a.Log {
		lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
		if lo == hi {
			hi = lo * 10
		}
		return lo, hi
	}
	if lo == hi {
		lo, hi = lo-1, hi+1
	}
	step := linearStep(hi - lo)
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	if !(lo < hi) { // values apart by less than float64 resolves at their size
		lo, hi = lo-1, hi+1
	}
	return lo, hi
}

// linearStep is the 1, 2 or 5 × 10^k step that cuts span into 4 to 10
// intervals.
func linearStep(span float64) float64 {
	raw := span / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch n := raw / mag; {
	case n < 1.5:
		return mag
	case n < 3.5:
		return 2 * mag
	case n < 7.5:
		return 5 * mag
	}
	return 10 * mag
}

// ticks returns a's ticks over [lo, hi].
func ticks(a Axis, lo, hi float64) []tick {
	if len(a.Categories) > 0 {
		t := make([]tick, len(a.Categories))
		for i, c := range a.Categories {
			t[i] = tick{float64(i), cleanN(c, MaxTickLabel)}
		}
		return t
	}
	if a.Log {
		return logTicks(lo, hi)
	}
	step := linearStep(hi - lo)
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	var t []tick
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+step*1e-9 && len(t) < 32; i++ {
		v := i * step
		label := strconv.FormatFloat(v, 'f', decimals, 64)
		if math.Abs(v) >= 1e6 || decimals > 6 {
			label = strconv.FormatFloat(v, 'g', 4, 64)
		}
		if v == 0 {
			label = "0"
		}
		t = append(t, tick{v, label})
	}
	return t
}

// logTicks labels each power of ten in [lo, hi] (every nth when there
// are more than 10), with minor ticks at 2…9 × 10^k over up to 6
// decades; a range of two decades or less gets 1, 2 and 5 × 10^k
// labelled.
func logTicks(lo, hi float64) []tick {
	first, last := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	decades := last - first
	every := max(1, (decades+9)/10)
	fine := math.Log10(hi/lo) <= 2
	var t []tick
	in := func(v float64) bool { return v >= lo*(1-1e-9) && v <= hi*(1+1e-9) }
	for k := first; k <= last; k++ {
		p := math.Pow(10, float64(k))
		for m := 1; m <= 9; m++ {
			v := float64(m) * p
			if !in(v) || (m > 1 && decades > 6) {
				continue
			}
			label := ""
			if m == 1 && (k-first)%every == 0 || fine && (m == 2 || m == 5) {
				label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			t = append(t, tick{v, label})
		}
	}
	return t
}
