package storm

import (
	"testing"
	"time"
)

func TestWheelExpiry(t *testing.T) {
	tests := []struct {
		name       string
		hz         int
		clk, delta int64
		want       int64
	}{
		{"level 0 is one jiffy late", 250, 0, 10, 11},
		{"level 1 rounds up to 8", 250, 0, 250, 256},
		{"level 2 rounds up to 64", 250, 0, 750, 768},
		{"level 2 from an odd clock", 250, 5, 750, 768},
		{"aligned expiry still moves one bucket", 250, 0, 768, 832},
		{"level 3 rounds up to 512", 250, 0, 5000, 5120},
		{"HZ 1000 level 3", 1000, 0, 8000, 8192},
		{"past expiry fires now", 250, 100, -5, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Wheel{HZ: tt.hz}).Expiry(tt.clk, tt.delta); got != tt.want {
				t.Errorf("Expiry(%d, %d) = %d, want %d", tt.clk, tt.delta, got, tt.want)
			}
		})
	}
}

func TestWheelGranularity(t *testing.T) {
	tests := []struct {
		hz    int
		ahead time.Duration
		want  time.Duration
	}{
		{250, 100 * time.Millisecond, 4 * time.Millisecond},
		{250, time.Second, 32 * time.Millisecond},
		{250, 2 * time.Second, 32 * time.Millisecond}, // 500 jiffies < 504
		{250, 3 * time.Second, 256 * time.Millisecond},
		{250, 16 * time.Second, 256 * time.Millisecond},
		{250, 17 * time.Second, 2048 * time.Millisecond},
		{250, 130 * time.Second, 16384 * time.Millisecond},
		{1000, 3 * time.Second, 64 * time.Millisecond},
		{100, 3 * time.Second, 80 * time.Millisecond},
		{0, 3 * time.Second, 256 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := (Wheel{HZ: tt.hz}).Granularity(tt.ahead); got != tt.want {
			t.Errorf("HZ=%d Granularity(%v) = %v, want %v", tt.hz, tt.ahead, got, tt.want)
		}
	}
}
