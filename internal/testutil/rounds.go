package testutil

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Cost is what one operation cost in one round of a benchmark: CPU time
// (user and system, every thread of the process) and wall time, each per
// operation, and heap allocations per operation.
type Cost struct {
	CPU, Wall time.Duration
	Allocs    float64
}

// Interleave runs each case once per round, rounds times, rotating which
// case goes first, so that a machine shared with other work (a build, a
// storm) slows every case alike rather than whichever ran during it. run
// does one round of a case and returns its cost per operation. The result
// has each case's costs in round order.
func Interleave(rounds int, cases []string, run func(name string) Cost) map[string][]Cost {
	out := make(map[string][]Cost, len(cases))
	for r := range rounds {
		for i := range cases {
			name := cases[(r+i)%len(cases)]
			out[name] = append(out[name], run(name))
		}
	}
	return out
}

// MedianCI returns the median of xs and a distribution-free 95 %
// confidence interval for it: the order statistics whose ranks a
// binomial(n, ½) puts 1.96 standard deviations either side of n/2 (for 25
// values, the 8th and the 18th). With fewer than 6 values the interval is
// the whole range.
func MedianCI(xs []float64) (med, lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	half := 1.96 * math.Sqrt(float64(n)) / 2
	j := max(int(math.Floor(float64(n)/2-half)), 0) // 0-based; the upper rank is its mirror
	return med, s[j], s[n-1-j]
}

// Comparison prints, for each case after the first (the base), the
// median of its per-round CPU and wall time beside the base's, and the
// median of the per-round ratios to the base (each round's cases ran
// next to each other) with its 95 % interval: the figure that says
// whether a case is within some percentage of the base on a shared
// machine, and how sure that is.
func Comparison(w io.Writer, unit string, cases []string, costs map[string][]Cost) {
	base := costs[cases[0]]
	fmt.Fprintf(w, "%-26s %12s %12s %9s   %-28s %-28s\n", "case ("+unit+")", "CPU median", "wall median", "allocs", "CPU vs "+cases[0], "wall vs "+cases[0])
	for _, name := range cases {
		c := costs[name]
		cpu, wall, allocs := make([]float64, len(c)), make([]float64, len(c)), make([]float64, len(c))
		rc, rw := make([]float64, 0, len(c)), make([]float64, 0, len(c))
		for i, x := range c {
			cpu[i], wall[i], allocs[i] = x.CPU.Seconds()*1e6, x.Wall.Seconds()*1e6, x.Allocs
			if i < len(base) && base[i].CPU > 0 && base[i].Wall > 0 {
				rc = append(rc, float64(x.CPU)/float64(base[i].CPU))
				rw = append(rw, float64(x.Wall)/float64(base[i].Wall))
			}
		}
		mc, _, _ := MedianCI(cpu)
		mw, _, _ := MedianCI(wall)
		ma, _, _ := MedianCI(allocs)
		fmt.Fprintf(w, "%-26s %9.2f µs %9.2f µs %9.1f   %-28s %-28s\n", name, mc, mw, ma, ratio(rc), ratio(rw))
	}
}

// ratio formats the median of per-round ratios as a change with its 95 %
// interval: "+2.1 % [-0.4, +4.0]".
func ratio(r []float64) string {
	m, lo, hi := MedianCI(r)
	if math.IsNaN(m) {
		return "-"
	}
	return fmt.Sprintf("%+.1f %% [%+.1f, %+.1f]", 100*(m-1), 100*(lo-1), 100*(hi-1))
}
