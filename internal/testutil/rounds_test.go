package testutil

import (
	"math"
	"testing"
)

func TestMedianCI(t *testing.T) {
	for _, tc := range []struct {
		xs          []float64
		med, lo, hi float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
		// n = 25: ranks 12.5 ∓ 4.9 → the 8th and 18th values (0-based 7, 17).
		{seq(25), 12, 7, 17},
	} {
		med, lo, hi := MedianCI(tc.xs)
		if med != tc.med || lo != tc.lo || hi != tc.hi {
			t.Errorf("MedianCI(%v) = %v [%v, %v], want %v [%v, %v]", tc.xs, med, lo, hi, tc.med, tc.lo, tc.hi)
		}
	}
	if m, _, _ := MedianCI(nil); !math.IsNaN(m) {
		t.Errorf("MedianCI(nil) = %v, want NaN", m)
	}
}

func TestInterleaveRotates(t *testing.T) {
	var order []string
	got := Interleave(3, []string{"a", "b", "c"}, func(name string) Cost {
		order = append(order, name)
		return Cost{}
	})
	want := "abcbcacab"
	var s string
	for _, o := range order {
		s += o
	}
	if s != want || len(got["a"]) != 3 {
		t.Errorf("order %q, want %q; %d rounds of a", s, want, len(got["a"]))
	}
}

func seq(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = float64(n - 1 - i)
	}
	return s
}
