package flatline

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
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

// TestPropertyBoundsFollowTheModel: for random settings × HZ, checked
// against arithmetic the test does itself, not against the model's Death:
// the idle bound's Worst is Idle + n·Interval for the most probes n that
// a sequence of firings each one jiffy late sends (Count without a user
// timeout); the real bucket arithmetic (Wheel.Expiry) from random phases
// ends the connection within Worst + Slack and never after fewer probes
// than LostProbes+1; and a user timeout Validate accepts never ends a
// random-phase sequence before Count probes went out.
func TestPropertyBoundsFollowTheModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	hzs := append([]int{0}, kernel.CommonHZ()...)
	for range 4000 {
		hz := hzs[r.IntN(len(hzs))]
		set := Settings{
			KeepAlive: true,
			Idle:      time.Duration(1+r.IntN(30)) * time.Second,
			Interval:  time.Duration(1+r.IntN(10)) * time.Second,
			Count:     1 + r.IntN(8),
		}
		full := set.Idle + time.Duration(set.Count)*set.Interval
		set.UserTimeout = (time.Duration(r.Int64N(int64(full))) + time.Millisecond).Truncate(time.Millisecond)
		h := LinuxDefaults()
		h.HZ = hz
		b := set.Bounds(h)[0]
		hzList := []int{hz}
		if hz == 0 {
			hzList = kernel.CommonHZ()
		}
		most := 0
		for _, z := range hzList {
			most = max(most, probesEarliest(set, z))
		}
		if want := set.Idle + time.Duration(most)*set.Interval; b.Worst != want {
			t.Fatalf("%+v HZ=%d: Worst %v, want Idle + %d×Interval = %v", set, hz, b.Worst, most, want)
		}
		c := Config{Timeout: MaxTimeout, Idle: set.Idle, Interval: set.Interval, Count: set.Count, UserTimeout: set.UserTimeout, Spread: NoSpread}
		accepted := c.Validate() == nil
		for _, z := range kernel.CommonHZ() {
			w := kernel.MustWheel(z)
			clk := r.Int64N(1 << 22)
			idle, ivl, user := w.Jiffies(set.Idle), w.Jiffies(set.Interval), w.Jiffies(set.UserTimeout)
			probes, f := 0, w.Expiry(clk, idle)
			for !kernel.KeepaliveKills(f-clk, user, probes, set.Count) {
				probes++
				f = w.Expiry(f, ivl)
			}
			if accepted && probes < set.Count {
				t.Fatalf("%+v HZ=%d: Validate accepts a user timeout that ended the sequence after %d of %d probes", set, z, probes, set.Count)
			}
			if hz != 0 && z != hz {
				continue
			}
			if dl, _ := b.Deadline(); w.Duration(f-clk) > dl || probes < b.LostProbes+1 {
				t.Fatalf("%+v HZ=%d: dies at %v after %d probes; bound %v, lost %d", set, w.HZ(), w.Duration(f-clk), probes, b, b.LostProbes)
			}
		}
	}
}

// probesEarliest counts the probes a keepalive sequence sends before the
// firing that kills when every timer fires one jiffy after its expiry (the
// least lateness the wheel allows), in whole jiffies at hz: the first
// firing Idle + 1 jiffy after the last receive, each next one Interval + 1
// jiffy later; with a user timeout the first at or past it (in jiffies,
// rounded up) with a probe out kills, without one the firing after Count
// probes.
func probesEarliest(s Settings, hz int) int {
	if s.UserTimeout == 0 {
		return s.Count
	}
	ceilJ := func(d time.Duration) int64 { return (int64(d)*int64(hz) + int64(time.Second) - 1) / int64(time.Second) }
	at, probes := ceilJ(s.Idle)+1, 0
	for probes == 0 || at < ceilJ(s.UserTimeout) {
		probes++
		at += ceilJ(s.Interval) + 1
	}
	return probes
}
