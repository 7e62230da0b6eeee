package storm

import (
	"math"
	"slices"
	"time"
)

// Burst is the largest number of probes that left within one window.
type Burst struct {
	Probes int           // probes in the window
	At     time.Duration // start of the window: the first probe in it
}

// WorstBurst returns the window of the given width (half-open, starting at a
// probe) holding the most probes. times need not be sorted. A window of one
// tick counts the probes the timer wheel fired together; the zero window
// counts one.
func WorstBurst(times []time.Duration, window time.Duration) Burst {
	if len(times) == 0 {
		return Burst{}
	}
	ts := slices.Clone(times)
	slices.Sort(ts)
	if window <= 0 {
		window = 1
	}
	var best Burst
	j := 0
	for i := range ts {
		for j < len(ts) && ts[j]-ts[i] < window {
			j++
		}
		if n := j - i; n > best.Probes {
			best = Burst{Probes: n, At: ts[i]}
		}
	}
	return best
}

// MaxBins bounds the length of a Histogram.
const MaxBins = 1 << 20

// Histogram counts probes per bin of width bin from time from: bin i holds
// [from+i·bin, from+(i+1)·bin). Probes before from, or beyond MaxBins bins,
// are left out.
func Histogram(times []time.Duration, from, bin time.Duration) []int {
	if bin <= 0 || len(times) == 0 {
		return nil
	}
	n := 0
	for _, t := range times {
		if t >= from {
			n = max(n, int(min((t-from)/bin, MaxBins-1))+1)
		}
	}
	h := make([]int, n)
	for _, t := range times {
		if t < from || (t-from)/bin >= MaxBins {
			continue
		}
		h[(t-from)/bin]++
	}
	return h
}

// BinFor returns bin, or a wider one if the span would need more than
// maxBins bins of it.
func BinFor(span, bin time.Duration, maxBins int) time.Duration {
	if maxBins > 0 && span/time.Duration(maxBins) >= bin {
		return span/time.Duration(maxBins) + 1
	}
	return bin
}

// Floor is the smallest worst burst N connections probing every period can
// have when the timer wheel quantizes their phases to buckets of width
// bucket: N · bucket / period, rounded up, and at least 1.
func Floor(n int, bucket, period time.Duration) int {
	if n <= 0 || period <= 0 {
		return 0
	}
	if bucket >= period {
		return n
	}
	return max(1, int(math.Ceil(float64(n)*float64(bucket)/float64(period))))
}
