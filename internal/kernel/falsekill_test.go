package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The Monte-Carlo simulations below replay the kernel's rules directly,
// coded apart from the model: timers on the wheel (Wheel.Expiry from a
// random phase), tcp_keepalive_timer's decision, the retransmission and
// SYN timers with backoff and the user timeout's clamp, and a random loss
// drawn for every packet. They are seeded, so the tests are deterministic.

// simKeepalive runs one connection for hours of simulated time and counts
// its false kills (a killed connection is re-dialled at once).
func simKeepalive(rng *rand.Rand, w Wheel, k Keepalive, p, hours float64) (kills int, secs float64) {
	idle, intvl, user := w.Jiffies(k.Idle), w.Jiffies(k.Interval), w.Jiffies(k.UserTimeout)
	start := rng.Int64N(1 << 20)
	end := start + int64(hours*3600*float64(w.HZ()))
	last, probes := start, 0
	t := w.Expiry(start, idle) // SO_KEEPALIVE arms a full idle period
	for t < end {
		elapsed := t - last
		if elapsed < idle {
			t = w.Expiry(t, idle-elapsed)
			continue
		}
		if KeepaliveKills(elapsed, user, probes, k.Count) {
			kills++
			last, probes = t, 0
			t = w.Expiry(t, idle)
			continue
		}
		probes++
		if rng.Float64() >= p && rng.Float64() >= p { // probe and answer both through
			last, probes = t, 0
		}
		t = w.Expiry(t, intvl)
	}
	return kills, float64(end-start) / float64(w.HZ())
}

// simWrite replays one write into a lossy path: the tail-loss probe, the
// retransmission timer doubling from the path's RTO up to its cap, and
// the user timeout (or tcp_retries2) checked at each firing, the timer
// clamped to it. It reports whether the write killed the connection.
func simWrite(rng *rand.Rand, u time.Duration, retries2 int, path Path, p float64) bool {
	through := func() bool { return rng.Float64() >= p && rng.Float64() >= p }
	if through() || through() { // the write, the tail-loss probe
		return false
	}
	rto := max(path.RTO, MinRTO)
	rtoMax := path.RTOMax
	if rtoMax == 0 {
		rtoMax = MaxRTO
	}
	limit := u
	if u == 0 {
		limit = ModelTimeout(retries2, MinRTO)
	}
	var since time.Duration // since the first retransmission by timeout
	for {
		if since >= limit {
			return true
		}
		if through() {
			return false
		}
		rto = min(2*rto, rtoMax)
		next := rto
		if u > 0 {
			next = min(next, u-since) // tcp_clamp_rto_to_user_timeout
		}
		since += next
	}
}

// simDial replays one dial: SYN timer firings 1 s apart for the linear
// timeouts, then doubling; the kernel gives up at retries+linear
// retransmissions or ModelTimeout(retries, 1 s), the user timeout ends it
// at the first firing past it (clamped), the dial deadline at its time.
func simDial(rng *rand.Rand, retries, linear int, u, deadline time.Duration, p float64) bool {
	through := func() bool { return rng.Float64() >= p && rng.Float64() >= p }
	limit := ModelTimeout(retries, InitialRTO)
	var t time.Duration
	rto := InitialRTO
	for n := 0; ; n++ { // n retransmissions so far; a SYN goes out now
		if deadline > 0 && t >= deadline || u > 0 && t >= u {
			return true
		}
		if through() {
			return false
		}
		next := rto
		if u > 0 {
			next = min(next, u-t)
		}
		t += next
		if n >= retries+linear || t >= limit {
			if !(u > 0 && t >= u) && !(deadline > 0 && t >= deadline) {
				return true // the kernel gives up at this firing
			}
		}
		if n >= linear {
			rto = min(2*rto, MaxRTO)
		}
	}
}

// lossFor picks a loss rate at which n exchanges all fail in about one
// trial in ten: high enough to count thousands of kills.
func lossFor(n int) float64 { return 1 - math.Sqrt(1-math.Pow(0.1, 1/float64(n))) }

// within reports whether a measured count agrees with an expected one to
// within five standard deviations (Poisson) plus a relative margin.
func within(got int, want, margin float64) bool {
	return math.Abs(float64(got)-want) <= 5*math.Sqrt(want)+margin*want
}

func TestPropertyKeepaliveRiskMatchesSimulation(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	cases := []Keepalive{
		{Idle: 1 * s, Interval: 1 * s, Count: 2, UserTimeout: 2600 * time.Millisecond},
		{Idle: 4 * s, Interval: 1 * s, Count: 3, UserTimeout: 6600 * time.Millisecond},
		{Idle: 8 * s, Interval: 5 * s, Count: 3, UserTimeout: 22600 * time.Millisecond},
		{Idle: 8 * s, Interval: 1 * s, Count: 15, UserTimeout: 22600 * time.Millisecond},
		{Idle: 2 * s, Interval: 1 * s, Count: 8, UserTimeout: 9600 * time.Millisecond},
		{Idle: 15 * s, Interval: 15 * s, Count: 9},
		{Idle: 3 * s, Interval: 1 * s, Count: 4},
	}
	for _, k := range cases {
		for _, hz := range CommonHZ() {
			t.Run(fmt.Sprintf("%v/%v/%d/U=%v/HZ=%d", k.Idle, k.Interval, k.Count, k.UserTimeout, hz), func(t *testing.T) {
				o := Options{KeepAlive: true, Idle: k.Idle, Interval: k.Interval, Count: k.Count, UserTimeout: k.UserTimeout}
				d, err := k.Death(hz)
				if err != nil {
					t.Fatal(err)
				}
				p := lossFor(d.MinProbes)
				r, err := KeepaliveRisk(o, hz, p)
				if err != nil {
					t.Fatal(err)
				}
				hours := 30000 / r.PerHour // about 30,000 kills expected
				kills, secs := simKeepalive(rng, MustWheel(hz), k, p, hours)
				want := r.PerHour * secs / 3600
				exact := k.UserTimeout == 0 || d.MinProbes == d.MaxProbes
				t.Logf("p=%.3f n=%d..%d: simulated %d kills in %.1f h, model %.0f", p, d.MinProbes, d.MaxProbes, kills, secs/3600, want)
				switch {
				case exact && !within(kills, want, 0.03):
					t.Errorf("simulated %d kills, model %.0f: more than 3 %% + 5σ apart", kills, want)
				case !exact && float64(kills) > want+5*math.Sqrt(want):
					t.Errorf("simulated %d kills, more than the model's %.0f: the model must bound them (it takes the fewest probes)", kills, want)
				}
			})
		}
	}
}

func TestPropertySendingRiskMatchesSimulation(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2))
	cases := []struct {
		u    time.Duration
		path Path
	}{
		{2600 * time.Millisecond, Path{}},
		{22600 * time.Millisecond, Path{}},
		{22600 * time.Millisecond, Path{RTO: 1700 * time.Millisecond}},
		{22600 * time.Millisecond, Path{RTOMax: time.Second}},
		{6600 * time.Millisecond, Path{RTO: 300 * time.Millisecond, RTOMax: 2 * time.Second}},
		{0, Path{RTOMax: 10 * time.Second}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("U=%v/RTO=%v/cap=%v", c.u, c.path.RTO, c.path.RTOMax), func(t *testing.T) {
			r := SendingRisk(c.u, 15, time.Second, c.path)
			p := lossFor(r.Exchanges)
			c.path.Loss = p
			r = SendingRisk(c.u, 15, time.Second, c.path)
			const writes = 300000
			kills := 0
			for range writes {
				if simWrite(rng, c.u, 15, c.path, p) {
					kills++
				}
			}
			want := r.PerTrial * writes
			if !within(kills, want, 0.01) {
				t.Errorf("p=%.3f, %d transmissions: simulated %d kills in %d writes, model %.0f", p, r.Exchanges, kills, writes, want)
			}
		})
	}
}

func TestPropertyConnectRiskMatchesSimulation(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 3))
	cases := []struct {
		retries, linear int
		u, deadline     time.Duration
	}{
		{6, 4, 0, 0},
		{6, 4, 2600 * time.Millisecond, 3 * s},
		{6, 4, 22600 * time.Millisecond, 30 * s},
		{6, 0, 0, 10 * s},
		{3, 4, 0, 0},
		{6, 4, 9600 * time.Millisecond, 4 * s},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d/%d/U=%v/deadline=%v", c.retries, c.linear, c.u, c.deadline), func(t *testing.T) {
			p := lossFor(ConnectRisk(c.retries, c.linear, c.u, c.deadline, 0).Exchanges)
			r := ConnectRisk(c.retries, c.linear, c.u, c.deadline, p)
			const dials = 300000
			kills := 0
			for range dials {
				if simDial(rng, c.retries, c.linear, c.u, c.deadline, p) {
					kills++
				}
			}
			if want := r.PerTrial * dials; !within(kills, want, 0.01) {
				t.Errorf("p=%.3f, %d SYNs: simulated %d failed dials of %d, model %.0f", p, r.Exchanges, kills, dials, want)
			}
		})
	}
}

// simHeartbeat runs the peer's side of a heartbeat for hours: a frame
// every jittered interval, each heard at its first transmission that gets
// through one way, never before the frame ahead of it (one TCP stream);
// the link fails when two heard frames are Deadline apart. It counts the
// deadline's kills only (the user timeout's are SendingRisk's).
func simHeartbeat(rng *rand.Rand, h Heartbeat, path Path, hours float64) int {
	at := Transmissions(0, 15, path)
	minIv := 2*h.Interval - h.MaxInterval
	end := time.Duration(hours * float64(time.Hour))
	var sent, heard time.Duration
	kills := 0
	for sent < end {
		sent += minIv + time.Duration(rng.Int64N(int64(h.MaxInterval-minIv+1)))
		arrive := sent + at[len(at)-1]
		for _, t := range at {
			if rng.Float64() >= path.Loss {
				arrive = sent + t
				break
			}
		}
		arrive = max(arrive, heard)
		if arrive-heard >= h.Deadline {
			kills++
		}
		heard = arrive
	}
	return kills
}

func TestPropertyHeartbeatRiskBoundsSimulation(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 4))
	for _, h := range []Heartbeat{
		{Interval: 600 * time.Millisecond, MaxInterval: 750 * time.Millisecond, Deadline: 2850 * time.Millisecond},
		{Interval: 2 * s, MaxInterval: 2500 * time.Millisecond, Deadline: 9500 * time.Millisecond},
		{Interval: 6 * s, MaxInterval: 7500 * time.Millisecond, Deadline: 28500 * time.Millisecond},
	} {
		t.Run(fmt.Sprint(h.Interval), func(t *testing.T) {
			path := Path{}
			var m int
			for _, at := range Transmissions(0, 15, path) {
				if at < h.Deadline-h.MaxInterval {
					m++
				}
			}
			path.Loss = math.Pow(0.05, 1/float64(m))
			r := HeartbeatRisk(h, 0, 15, path)
			deadlineRate := r.PerHour - SendingRisk(0, 15, h.Interval/2, path).PerHour
			hours := 20000 / deadlineRate
			kills := simHeartbeat(rng, h, path, hours)
			want := deadlineRate * hours
			t.Logf("loss %.3f, %d transmissions: simulated %d kills, model bound %.0f", path.Loss, m, kills, want)
			if float64(kills) > want+5*math.Sqrt(want) {
				t.Errorf("simulated %d kills, more than the model's bound %.0f", kills, want)
			}
			if kills == 0 {
				t.Errorf("no kills simulated at loss %.3f where the model expects up to %.0f: the simulation cannot fail", path.Loss, want)
			}
		})
	}
}

func TestFalseKillsTheIssuesMeasurements(t *testing.T) {
	// Measured with nftables random loss, Linux 6.18, idle connections held
	// 3 minutes (issue 16, DESIGN.md): Timeout 3 s (1s/1s/2, U 2.6 s) at
	// 1 %: 42 and 40 of 600; 8s/5s/3 (U 22.6 s) at 5 %: 11 and 6 of 500;
	// Go's 15s/15s/9: 0 of 300. The model must land within a factor 2.
	cases := []struct {
		o           Options
		loss        float64
		conns       float64
		measuredMin float64
		measuredMax float64
	}{
		{Options{KeepAlive: true, Idle: s, Interval: s, Count: 2, UserTimeout: 2600 * time.Millisecond}, 0.01, 600, 40, 42},
		{Options{KeepAlive: true, Idle: 8 * s, Interval: 5 * s, Count: 3, UserTimeout: 22600 * time.Millisecond}, 0.05, 500, 6, 11},
		{Options{KeepAlive: true, Idle: 4 * s, Interval: s, Count: 3, UserTimeout: 6600 * time.Millisecond}, 0.05, 300, 23, 23},
	}
	for _, c := range cases {
		f, err := FalseKills(Exposure{Options: c.o, HZ: 250, Path: Path{Loss: c.loss}})
		if err != nil {
			t.Fatal(err)
		}
		got := f.Idle.PerHour * c.conns * 3 / 60
		if got < c.measuredMin/2 || got > c.measuredMax*2 {
			t.Errorf("%+v at %v: model %.1f kills in 3 min, measured %v to %v", c.o, c.loss, got, c.measuredMin, c.measuredMax)
		}
	}
	goDefault := Options{KeepAlive: true, Idle: 15 * s, Interval: 15 * s, Count: 9}
	f, _ := FalseKills(Exposure{Options: goDefault, Path: Path{Loss: 0.05}})
	if got := f.Idle.PerHour * 300 * 3 / 60; got > 0.1 {
		t.Errorf("Go's defaults at 5 %%: model %.3g kills of 300 in 3 min, measured 0", got)
	}
}

func TestFalseKillsOutage(t *testing.T) {
	f, err := FalseKills(Exposure{
		Options: Options{KeepAlive: true, Idle: 8 * s, Interval: s, Count: 15, UserTimeout: 22600 * time.Millisecond},
		HZ:      250,
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.Idle.Exchanges != 14 || f.Idle.OutageSurvived != 13*s {
		t.Errorf("8s/1s/15 U 22.6 s at HZ=250: %d exchanges, outage %v; want 14 and 13s (the timers' lateness costs one probe)", f.Idle.Exchanges, f.Idle.OutageSurvived)
	}
	// A write on a short path with U 22.6 s: sent at 0, 0.2 s, 0.4 s, then
	// 0.8, 1.6, 3.2, 6.4, 12.8 s: the next (25.6 s) is past U.
	if want := 12800 * time.Millisecond; f.Sending.Exchanges != 8 || f.Sending.OutageSurvived != want {
		t.Errorf("sending: %d transmissions, outage %v; want 8 and %v", f.Sending.Exchanges, f.Sending.OutageSurvived, want)
	}
	if f.Idle.PerHour != 0 || f.Sending.PerHour != 0 {
		t.Errorf("no loss: want no false kills, got %g and %g an hour", f.Idle.PerHour, f.Sending.PerHour)
	}
	for _, bad := range []float64{-0.1, 1, math.NaN()} {
		if _, err := FalseKills(Exposure{Path: Path{Loss: bad}}); err == nil {
			t.Errorf("loss %v: want an error", bad)
		}
	}
}
