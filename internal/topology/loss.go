package topology

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Loss is a random loss rate each way, in packets per thousand: the
// router's nftables rule "numgen random mod 1000 < N drop" drops N of
// every 1000 forwarded packets at random, on any kernel with nf_tables
// (no netem needed).
type Loss uint32

// LossScale is the modulus of the router's random numbers: a Loss is in
// units of 1/LossScale.
const LossScale = 1000

// Fraction is l as a probability, 0 to 1.
func (l Loss) Fraction() float64 { return float64(l) / LossScale }

// String is l as a percentage, e.g. "1%" or "0.5%".
func (l Loss) String() string {
	return strconv.FormatFloat(float64(l)/10, 'f', -1, 64) + "%"
}

// ParseLoss reads a loss rate written as a percentage ("1%", "0.5%") or a
// fraction ("0.01"), at a resolution of 0.1 %, above 0 and below 100 %.
func ParseLoss(s string) (Loss, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("loss %q: want a percentage like 1%% or a fraction like 0.01", s)
	}
	if !pct {
		f *= 100
	}
	pm := f * 10
	if pm <= 0 || pm >= LossScale {
		return 0, fmt.Errorf("loss %q: want more than 0%% and less than 100%%", s)
	}
	if r := math.Round(pm); math.Abs(pm-r) > 1e-9 {
		return 0, fmt.Errorf("loss %q: the router's resolution is 0.1%%: round it (e.g. %g%%)", s, r/10)
	}
	return Loss(math.Round(pm)), nil
}
