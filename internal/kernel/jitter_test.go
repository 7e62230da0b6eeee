package kernel

import (
	"testing"
	"time"
)

func TestJitterStep(t *testing.T) {
	for _, tt := range []struct {
		idle, want time.Duration
	}{
		{1 * time.Second, time.Second},      // HZ=100 level 1: 80 ms
		{8 * time.Second, time.Second},      // HZ=100 level 2: 640 ms
		{77 * time.Second, 6 * time.Second}, // HZ=100 level 3: 5.12 s
	} {
		if got := JitterStep(tt.idle); got != tt.want {
			t.Errorf("JitterStep(%v) = %v, want %v", tt.idle, got, tt.want)
		}
	}
}

func TestJitterOffsets(t *testing.T) {
	for _, tt := range []struct {
		spread, room, step time.Duration
		want               int
	}{
		{0, time.Hour, time.Second, 1},
		{time.Second, time.Hour, time.Second, 1},           // 0 only: strictly below 1 s
		{3 * time.Second, time.Hour, time.Second, 3},       // 0, 1, 2
		{7 * time.Second, 2 * time.Second, time.Second, 3}, // the room decides
		{73 * time.Second, time.Hour, 6 * time.Second, 13}, // 0, 6, ..., 72
		{7 * time.Second, -time.Second, time.Second, 1},
	} {
		if got := JitterOffsets(tt.spread, tt.room, tt.step); got != tt.want {
			t.Errorf("JitterOffsets(%v, %v, %v) = %d, want %d", tt.spread, tt.room, tt.step, got, tt.want)
		}
	}
}

// TestJitter: the hash of enforce.c, computed by hand for a few ports,
// and consecutive ephemeral ports spread over the offsets.
func TestJitter(t *testing.T) {
	// (40000<<16 | 7000) * 2654435761 mod 2^32 = 2233958360; >>16 = 34087;
	// 34087 % 7 = 4.
	if got := Jitter(7, time.Second, 40000, 7000); got != 4*time.Second {
		t.Errorf("Jitter(7, 1s, 40000, 7000) = %v, want 4s", got)
	}
	if got := Jitter(1, time.Second, 40000, 7000); got != 0 {
		t.Errorf("one offset: %v, want 0", got)
	}
	seen := map[time.Duration]int{}
	for p := uint16(40000); p < 40070; p++ {
		seen[Jitter(7, 2*time.Second, p, 7000)]++
	}
	for k := range 7 {
		if n := seen[time.Duration(k)*2*time.Second]; n < 5 {
			t.Errorf("70 consecutive ports: offset %d taken %d times, want at least 5 (%v)", k, n, seen)
		}
	}
}

func TestSpreadSlot(t *testing.T) {
	for _, tt := range []struct{ idle, want time.Duration }{
		// HZ=300's level 2 (64 jiffies of 3.33 ms) is the finest at 8 s;
		// HZ=250's level 2 is 256 ms, HZ=1000's level 3 512 ms. A quarter.
		{8 * time.Second, 213333333 / 4},
		{time.Second, 26666666 / 4}, // HZ=300, level 1: 8 jiffies
	} {
		if got := SpreadSlot(tt.idle); got < tt.want-time.Millisecond || got > tt.want+time.Millisecond {
			t.Errorf("SpreadSlot(%v) = %v, want about %v", tt.idle, got, tt.want)
		}
	}
}
