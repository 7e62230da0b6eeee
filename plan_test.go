package flatline

import (
	"testing"
	"time"
)

func TestBounds(t *testing.T) {
	h := LinuxDefaults()
	h.HZ = 250
	tests := []struct {
		name  string
		s     Settings
		state State
		never bool
		worst time.Duration
		lost  int
	}{
		{"keepalive off idle", Settings{}, StateIdle, true, 0, 0},
		{"go dialer idle", GoDialerSettings(), StateIdle, false, 150 * time.Second, 8},
		{"go dialer sending", GoDialerSettings(), StateSending, false, 1044800 * time.Millisecond, 0},
		{"go dialer closed window", GoDialerSettings(), StateClosedWindow, true, 0, 0},
		{"story idle", Settings{KeepAlive: true, Idle: 10 * s, Interval: 10 * s, Count: 2}, StateIdle, false, 30 * s, 1},
		// grpc-go #6250: a user timeout below idle + interval kills at the
		// first unanswered probe.
		{"user timeout under I+V", Settings{KeepAlive: true, Idle: 10 * s, Interval: 10 * s, Count: 5, UserTimeout: 15 * s}, StateIdle, false, 20 * s, 0},
		{"user timeout over I+CV", Settings{KeepAlive: true, Idle: 10 * s, Interval: 10 * s, Count: 2, UserTimeout: 60 * s}, StateIdle, false, 60 * s, 4},
		{"user timeout sending", Settings{KeepAlive: true, Idle: 10 * s, Interval: 10 * s, Count: 2, UserTimeout: 4 * s}, StateSending, false, 4400 * time.Millisecond, 0},
		{"user timeout connecting", Settings{UserTimeout: 4 * s}, StateConnecting, false, 4 * s, 0},
		// 6 retries after 4 linear timeouts (tcp_syn_linear_timeouts): 5×1 s + 2+4+...+64 s.
		{"syn retries", Settings{}, StateConnecting, false, 131 * s, 0},
	}
	for _, tt := range tests {
		var got Bound
		for _, b := range tt.s.Bounds(h) {
			if b.State == tt.state {
				got = b
			}
		}
		if got.Never != tt.never || (!tt.never && got.Worst != tt.worst) || got.LostProbes != tt.lost {
			t.Errorf("%s: got never=%v worst=%v lost=%d, want never=%v worst=%v lost=%d (%s)",
				tt.name, got.Never, got.Worst, got.LostProbes, tt.never, tt.worst, tt.lost, got.Rule)
		}
		if got.Rule == "" {
			t.Errorf("%s: no rule", tt.name)
		}
	}
}
