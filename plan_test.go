package flatline

import (
	"testing"
	"time"
)

func TestGranularity(t *testing.T) {
	tests := []struct {
		hz   int
		d    time.Duration
		want time.Duration
	}{
		{250, 100 * time.Millisecond, 4 * time.Millisecond},
		{250, time.Second, 32 * time.Millisecond},
		{250, 2 * time.Second, 32 * time.Millisecond},
		{250, 3 * time.Second, 256 * time.Millisecond},
		{250, 10 * time.Second, 256 * time.Millisecond},
		{250, 20 * time.Second, 2048 * time.Millisecond},
		{1000, 5 * time.Second, 512 * time.Millisecond},
		{100, 5 * time.Second, 80 * time.Millisecond},
		{100, 10 * time.Second, 640 * time.Millisecond},
		{0, 5 * time.Second, 512 * time.Millisecond}, // largest over common HZ: 1000
	}
	for _, tt := range tests {
		if got := granularity(tt.hz, tt.d); got != tt.want {
			t.Errorf("granularity(%d, %v) = %v, want %v", tt.hz, tt.d, got, tt.want)
		}
	}
}

func TestRetransmitGiveUp(t *testing.T) {
	h := LinuxDefaults()
	tests := []struct {
		rto, user, want time.Duration
	}{
		// Counted from the first retransmission: firings 0.4, 1.2, 2.8, ...
		// 204.4 s, then 120 s apart; 924.4 misses the 924.6 s model by 0.2.
		{0, 0, 1044400 * time.Millisecond},
		{204 * time.Millisecond, 0, 928488 * time.Millisecond},
		{time.Second, 0, 966 * time.Second}, // 2+4+...+64 = 126, then 120 s steps
		{200 * time.Millisecond, 5 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		if got := RetransmitGiveUp(h, tt.rto, tt.user); got != tt.want {
			t.Errorf("RetransmitGiveUp(rto %v, user %v) = %v, want %v", tt.rto, tt.user, got, tt.want)
		}
	}
	h.Retries2 = 3 // model: 0.2+0.4+0.8+1.6 = 3 s; firings 0.4, 1.2, 2.8, 6.0
	if got, want := RetransmitGiveUp(h, 0, 0), 6*time.Second; got != want {
		t.Errorf("retries2=3: %v, want %v", got, want)
	}
}

func TestSynGiveUp(t *testing.T) {
	for retries, want := range map[int]time.Duration{1: 3 * time.Second, 2: 7 * time.Second, 6: 127 * time.Second} {
		if got := SynGiveUp(LinuxDefaults(), retries); got != want {
			t.Errorf("SynGiveUp(%d) = %v, want %v", retries, got, want)
		}
	}
}

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
		{"syn retries", Settings{}, StateConnecting, false, 127 * s, 0},
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

func TestParseKernelConfigHZ(t *testing.T) {
	tests := map[string]int{
		"CONFIG_HZ_250=y\nCONFIG_HZ=250\n":            250,
		"# CONFIG_HZ_1000 is not set\nCONFIG_HZ=1000": 1000,
		"CONFIG_HZ=":        0,
		"CONFIG_HZ=-5\n":    0,
		"CONFIG_HZ=abc\n":   0,
		"":                  0,
		"CONFIG_HZ_300=y\n": 0,
	}
	for in, want := range tests {
		if got := ParseKernelConfigHZ([]byte(in)); got != want {
			t.Errorf("ParseKernelConfigHZ(%q) = %d, want %d", in, got, want)
		}
	}
}

func FuzzParseKernelConfigHZ(f *testing.F) {
	f.Add([]byte("CONFIG_HZ=250\n"))
	f.Add([]byte("CONFIG_HZ=99999999999999999999\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if hz := ParseKernelConfigHZ(b); hz < 0 || hz > 100000 {
			t.Fatalf("HZ %d out of range", hz)
		}
	})
}
