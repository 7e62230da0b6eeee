package topology

import "testing"

func TestParseLoss(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Loss
		ok   bool
	}{
		{"1%", 10, true},
		{"5%", 50, true},
		{" 0.5% ", 5, true},
		{"0.01", 10, true},
		{"0.1%", 1, true},
		{"99.9%", 999, true},
		{"0.05%", 0, false}, // below the resolution
		{"1.25%", 0, false},
		{"0%", 0, false},
		{"100%", 0, false},
		{"-1%", 0, false},
		{"1", 0, false}, // a fraction of 1: everything
		{"NaN", 0, false},
		{"one", 0, false},
		{"", 0, false},
	} {
		got, err := ParseLoss(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseLoss(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	if s := Loss(5).String(); s != "0.5%" {
		t.Errorf("Loss(5).String() = %q, want 0.5%%", s)
	}
}
