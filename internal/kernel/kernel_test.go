package kernel

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const s = time.Second

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
		{0, 5 * time.Second, 512 * time.Millisecond}, // unknown: the largest over CommonHZ (1000)
		{-1, 1 * time.Second, 80 * time.Millisecond}, // unknown: HZ=100
		{0, 4 * time.Second, 256 * time.Millisecond}, // unknown: HZ=250
	}
	for _, tt := range tests {
		if got := Granularity(tt.hz, tt.d); got != tt.want {
			t.Errorf("Granularity(%d, %v) = %v, want %v", tt.hz, tt.d, got, tt.want)
		}
	}
	if _, err := NewWheel(0); err == nil {
		t.Error("NewWheel(0): want an error")
	}
}

func TestWheelExpiry(t *testing.T) {
	w := MustWheel(250)
	// Level 0 (below 63 jiffies): one jiffy late.
	if got := w.Expiry(1000, 10); got != 1011 {
		t.Errorf("level 0: %d, want 1011", got)
	}
	// Level 1 (63-503 jiffies): rounded up to the next multiple of 8.
	if got := w.Expiry(1000, 250); got != 1256 {
		t.Errorf("level 1: %d, want 1256", got)
	}
	if got := w.Expiry(1006, 250); got != 1264 {
		t.Errorf("level 1 on a boundary: %d, want 1264 (a whole bucket late)", got)
	}
}

func TestRetransmitGiveUp(t *testing.T) {
	tests := []struct {
		retries2        int
		rto, user, want time.Duration
	}{
		// Counted from the first retransmission: firings 0.4, 1.2, 2.8, ...
		// 204.4 s, then 120 s apart; 924.4 misses the 924.6 s model by 0.2.
		{15, 0, 0, 1044400 * time.Millisecond},
		{15, 204 * time.Millisecond, 0, 928488 * time.Millisecond},
		{15, time.Second, 0, 966 * time.Second}, // 2+4+...+64 = 126, then 120 s steps
		{15, 200 * time.Millisecond, 5 * time.Second, 5 * time.Second},
		{3, 0, 0, 6 * time.Second}, // model 0.2+0.4+0.8+1.6 = 3 s; firings 0.4, 1.2, 2.8, 6.0
	}
	for _, tt := range tests {
		if got := RetransmitGiveUp(tt.retries2, tt.rto, tt.user); got != tt.want {
			t.Errorf("RetransmitGiveUp(%d, rto %v, user %v) = %v, want %v", tt.retries2, tt.rto, tt.user, got, tt.want)
		}
		if tt.user == 0 {
			var sum time.Duration
			for _, f := range RetransmitFirings(tt.retries2, tt.rto) {
				sum += f
			}
			if sum != tt.want {
				t.Errorf("RetransmitFirings(%d, %v) sum to %v, want %v", tt.retries2, tt.rto, sum, tt.want)
			}
		}
	}
	if got, want := ModelTimeout(15, MinRTO), 924600*time.Millisecond; got != want {
		t.Errorf("ModelTimeout(15) = %v, want %v", got, want)
	}
}

// Measured on Linux 6.18 (HZ=250, tcp_syn_linear_timeouts 4) into a silent
// path: 3.06, 7.13, 19.35, 35.47, 69.52 and 135.06 s for 1 to 6 retries.
var synMeasured = map[int]time.Duration{
	1: 3060 * time.Millisecond, 2: 7130 * time.Millisecond, 3: 19350 * time.Millisecond,
	4: 35470 * time.Millisecond, 5: 69520 * time.Millisecond, 6: 135060 * time.Millisecond,
}

func TestSynGiveUp(t *testing.T) {
	linear4 := map[int]time.Duration{1: 3 * s, 2: 7 * s, 3: 19 * s, 4: 35 * s, 5: 67 * s, 6: 131 * s}
	linear0 := map[int]time.Duration{1: 3 * s, 2: 7 * s, 3: 15 * s, 4: 31 * s, 5: 63 * s, 6: 127 * s}
	for r := 1; r <= 6; r++ {
		if got := SynGiveUp(r, 4); got != linear4[r] {
			t.Errorf("SynGiveUp(%d, linear 4) = %v, want %v", r, got, linear4[r])
		}
		if got := SynGiveUp(r, 0); got != linear0[r] {
			t.Errorf("SynGiveUp(%d, linear 0) = %v, want %v", r, got, linear0[r])
		}
		// The measurement lies within the model and its slack at HZ=250.
		steps := SynTimeouts(r, 4)
		lo, hi := SynGiveUp(r, 4), SynGiveUp(r, 4)+SlackOf(250, steps)
		if m := synMeasured[r]; m < lo || m > hi {
			t.Errorf("%d retries: measured %v outside the model's [%v, %v]", r, m, lo, hi)
		}
	}
	if got, want := SynTimeouts(6, 4), []time.Duration{s, s, s, s, s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 64 * s}; !cmp.Equal(got, want) {
		t.Errorf("SynTimeouts(6, 4) = %v, want %v", got, want)
	}
}

// The overrides the issue found passing Validate although the kernel ends
// them at the first lost probe or before Count probes: measured U = 2.01 s
// with 1 s/1 s/2 died at the second firing, 2.04 s, after one probe.
func TestKeepaliveDeathAccumulatedLateness(t *testing.T) {
	tests := []struct {
		k         Keepalive
		hz        int
		min, max  int
		nominal   time.Duration
		lostProbe int
	}{
		{Keepalive{Idle: s, Interval: s, Count: 2, UserTimeout: 2010 * time.Millisecond}, 250, 1, 2, 3 * s, 0},
		{Keepalive{Idle: 2 * s, Interval: 2 * s, Count: 3, UserTimeout: 6010 * time.Millisecond}, 250, 2, 2, 6 * s, 1},
		{Keepalive{Idle: 5 * s, Interval: 5 * s, Count: 4, UserTimeout: 20020 * time.Millisecond}, 250, 3, 4, 25 * s, 2},
		// Without a user timeout Count decides, whatever the lateness.
		{Keepalive{Idle: 10 * s, Interval: 10 * s, Count: 2}, 0, 2, 2, 30 * s, 1},
		// grpc-go #6250: U below Idle + Interval kills at the first lost probe.
		{Keepalive{Idle: 10 * s, Interval: 10 * s, Count: 5, UserTimeout: 15 * s}, 0, 1, 1, 20 * s, 0},
		// A user timeout comfortably inside the window keeps Count.
		{Keepalive{Idle: s, Interval: s, Count: 2, UserTimeout: 2600 * time.Millisecond}, 0, 2, 2, 3 * s, 1},
	}
	for _, tt := range tests {
		d, err := tt.k.Death(tt.hz)
		if err != nil {
			t.Fatal(err)
		}
		if d.MinProbes != tt.min || d.MaxProbes != tt.max || d.Nominal != tt.nominal || d.LostProbes() != tt.lostProbe {
			t.Errorf("%+v at HZ=%d: %+v (lost %d), want probes %d-%d, nominal %v, lost %d", tt.k, tt.hz, d, d.LostProbes(), tt.min, tt.max, tt.nominal, tt.lostProbe)
		}
	}
	if _, err := (Keepalive{Idle: 0, Interval: s}).Death(0); err == nil {
		t.Error("idle 0: want an error")
	}
}

// exactDeath simulates tcp_keepalive_timer with the wheel's real bucket
// arithmetic (Expiry) from a given jiffy phase: the last segment arrives
// at clk, the timer is armed then, each firing re-arms from itself.
func exactDeath(w Wheel, k Keepalive, clk int64) (probes int, at time.Duration) {
	idle, ivl, user := w.Jiffies(k.Idle), w.Jiffies(k.Interval), w.Jiffies(k.UserTimeout)
	f := w.Expiry(clk, idle)
	for {
		if KeepaliveKills(f-clk, user, probes, k.Count) {
			return probes, time.Duration(f-clk) * w.Jiffy()
		}
		probes++
		f = w.Expiry(f, ivl)
	}
}

// TestPropertyDeathEnvelope: for random settings × HZ × phase, the real
// bucket arithmetic ends the connection within Death's range of probes
// and no later than Nominal + Slack.
func TestPropertyDeathEnvelope(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		hz := CommonHZ()[r.IntN(4)]
		w := MustWheel(hz)
		k := Keepalive{
			Idle:     time.Duration(1+r.IntN(40)) * s,
			Interval: time.Duration(1+r.IntN(20)) * s,
			Count:    1 + r.IntN(9),
		}
		if r.IntN(4) > 0 {
			k.UserTimeout = time.Duration(r.Int64N(int64(k.Idle+time.Duration(k.Count+1)*k.Interval))) + time.Millisecond
			k.UserTimeout = k.UserTimeout.Truncate(time.Millisecond)
		}
		d, err := k.Death(hz)
		if err != nil {
			t.Fatal(err)
		}
		for range 8 {
			probes, at := exactDeath(w, k, r.Int64N(1<<20))
			if probes < d.MinProbes || probes > d.MaxProbes {
				t.Fatalf("%+v HZ=%d: %d probes outside %d-%d", k, hz, probes, d.MinProbes, d.MaxProbes)
			}
			if at > d.Nominal+d.Slack {
				t.Fatalf("%+v HZ=%d: dies at %v past %v + %v", k, hz, at, d.Nominal, d.Slack)
			}
		}
		// SafeUserTimeout keeps Count probes whatever the lateness.
		safe := SafeUserTimeout(hz, k.Idle, k.Interval, k.Count)
		if full := k.Idle + time.Duration(k.Count)*k.Interval; safe <= full {
			if d1, _ := (Keepalive{Idle: k.Idle, Interval: k.Interval, Count: k.Count, UserTimeout: safe - time.Millisecond}).Death(hz); k.Count > 1 && d1.MinProbes >= k.Count {
				t.Fatalf("%+v HZ=%d: SafeUserTimeout %v is not the shortest", k, hz, safe)
			}
			k2 := k
			k2.UserTimeout = safe
			if d2, _ := k2.Death(hz); d2.MinProbes < k.Count {
				t.Fatalf("%+v HZ=%d: SafeUserTimeout %v lets only %d probes out", k, hz, safe, d2.MinProbes)
			}
		}
	}
}

func TestSequence(t *testing.T) {
	k := Keepalive{Idle: s, Interval: s, Count: 2, UserTimeout: 2010 * time.Millisecond}
	got := k.Sequence(MustWheel(250), Latest)
	want := []Firing{{At: 1032 * time.Millisecond, Probe: true}, {At: 2064 * time.Millisecond}}
	if !cmp.Equal(got, want) {
		t.Errorf("latest: %v, want %v", got, want)
	}
	got = k.Sequence(MustWheel(250), Earliest)
	if len(got) != 3 || got[2].Probe {
		t.Errorf("earliest: %v, want two probes then the kill", got)
	}
	// A long chain is walked, not listed.
	long := Keepalive{Idle: s, Interval: s, UserTimeout: 24 * time.Hour}
	if d, err := long.Death(1000); err != nil || d.MaxProbes < 80000 {
		t.Errorf("long chain: %+v, %v", d, err)
	}
}

func TestTraffic(t *testing.T) {
	tests := []struct {
		c    Conn
		want State
	}{
		{Conn{State: TCPSynSent}, StateConnecting},
		{Conn{State: TCPEstablished, Timer: TimerPersist}, StateClosedWindow},
		{Conn{State: TCPEstablished, HasSndWnd: true, Notsent: 10}, StateClosedWindow},
		{Conn{State: TCPEstablished, Timer: TimerOn}, StateSending},
		{Conn{State: TCPEstablished, Timer: TimerUnknown, Unacked: 1, SndWnd: 100, HasSndWnd: true}, StateSending},
		{Conn{State: TCPEstablished, Timer: TimerKeepalive, SndWnd: 100, HasSndWnd: true}, StateIdle},
	}
	for _, tt := range tests {
		if got := Traffic(tt.c); got != tt.want {
			t.Errorf("Traffic(%+v) = %v, want %v", tt.c, got, tt.want)
		}
	}
	if q := Quiet(Conn{LastDataRecv: 5 * s, LastAckRecv: 2 * s}); q != 2*s {
		t.Errorf("Quiet = %v, want 2s", q)
	}
}

func TestParseConfigHZ(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
		wantErr  bool
	}{
		{"debian", "# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n", 250, false},
		{"1000", "CONFIG_HZ_1000=y\nCONFIG_HZ=1000", 1000, false},
		{"missing", "CONFIG_HZ_250=y\n", 0, true},
		{"garbage", "CONFIG_HZ=fast\n", 0, true},
		{"negative", "CONFIG_HZ=-1\n", 0, true},
		{"empty value", "CONFIG_HZ=\n", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseConfigHZ(strings.NewReader(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: got %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
	if _, err := ParseConfigHZ(strings.NewReader("")); !errors.Is(err, ErrNoHZ) {
		t.Errorf("empty config: %v, want ErrNoHZ", err)
	}
}

func TestConfigHZFixture(t *testing.T) {
	hz, err := ConfigHZ("testdata/host")
	if err != nil || hz != 300 {
		t.Errorf("ConfigHZ(testdata/host) = %d, %v; want 300", hz, err)
	}
	if _, err := ConfigHZ(t.TempDir()); err == nil {
		t.Error("empty root: want an error")
	}
}

func TestParseTimerList(t *testing.T) {
	in := "Timer List Version: v0.10\nHRTIMER_MAX_CLOCK_BASES: 8\nnow at 943626273108 nsecs\n\ncpu: 0\n  .last_jiffies   : 4295128123\njiffies: 4295128124\ncpu: 1\njiffies: 1\n"
	got, err := ParseTimerList(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := (TimerList{Now: 943626273108, Jiffies: 4295128124}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := ParseTimerList(strings.NewReader("now at 5 nsecs\n")); !errors.Is(err, ErrNoJiffies) {
		t.Errorf("no jiffies: %v, want ErrNoJiffies", err)
	}
}

func TestHZFromTimerLists(t *testing.T) {
	a := TimerList{Now: time.Second, Jiffies: 1000}
	b := TimerList{Now: time.Second + 103*time.Millisecond, Jiffies: 1025}
	if got, err := HZFromTimerLists(a, b); err != nil || got != 250 {
		t.Errorf("got %d, %v; want 250", got, err)
	}
	if _, err := HZFromTimerLists(a, a); err == nil {
		t.Error("same reading twice: want an error")
	}
}

func FuzzParseConfigHZ(f *testing.F) {
	f.Add("CONFIG_HZ=250\n")
	f.Add("CONFIG_HZ=99999999999999999999\n")
	f.Fuzz(func(t *testing.T, in string) {
		if hz, err := ParseConfigHZ(strings.NewReader(in)); err == nil && (hz <= 0 || hz > 100000) {
			t.Fatalf("HZ %d accepted", hz)
		}
	})
}

func FuzzParseTimerList(f *testing.F) {
	f.Add("now at 943626273108 nsecs\njiffies: 4295128124\n")
	f.Fuzz(func(t *testing.T, in string) {
		if tl, err := ParseTimerList(strings.NewReader(in)); err == nil && tl.Now < 0 {
			t.Fatalf("negative time %v accepted", tl.Now)
		}
	})
}

func TestWheelExpiryTable(t *testing.T) {
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
		if got := MustWheel(tt.hz).Expiry(tt.clk, tt.delta); got != tt.want {
			t.Errorf("%s: Expiry(%d, %d) = %d, want %d", tt.name, tt.clk, tt.delta, got, tt.want)
		}
	}
	for _, tt := range []struct {
		hz    int
		ahead time.Duration
		want  time.Duration
	}{
		{250, 16 * time.Second, 256 * time.Millisecond},
		{250, 17 * time.Second, 2048 * time.Millisecond},
		{250, 130 * time.Second, 16384 * time.Millisecond},
		{1000, 3 * time.Second, 64 * time.Millisecond},
		{100, 3 * time.Second, 80 * time.Millisecond},
		{300, 3 * time.Second, 213333333 * time.Nanosecond},
	} {
		if got := MustWheel(tt.hz).Granularity(tt.ahead); got != tt.want {
			t.Errorf("HZ=%d Granularity(%v) = %v, want %v", tt.hz, tt.ahead, got, tt.want)
		}
	}
}

// Which bucket does a timer land in? At HZ=250 a keepalive 3 s ahead is
// rounded to 256 ms, one 20 s ahead to 2.048 s.
func ExampleWheel_Granularity() {
	w := MustWheel(250)
	for _, d := range []time.Duration{time.Second, 3 * time.Second, 20 * time.Second} {
		fmt.Println(d, "→", w.Granularity(d))
	}
	// Output:
	// 1s → 32ms
	// 3s → 256ms
	// 20s → 2.048s
}

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"6.18.44-fc-v782", Version{6, 18, 44}, true},
		{"5.10.0-32-amd64", Version{5, 10, 0}, true},
		{"5.10.0-32-amd64 (5.10.223)", Version{5, 10, 223}, true},
		{"6.1.0-40-amd64 (6.1.153)", Version{6, 1, 153}, true},
		{"6.12", Version{6, 12, 0}, true},
		{"", Version{}, false},
		{"linux", Version{}, false},
	} {
		got, ok := ParseVersion(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDistributionVersion(t *testing.T) {
	const debian = "Linux version 5.10.0-32-amd64 (debian-kernel@lists.debian.org) (gcc-10 (Debian 10.2.1-6) 10.2.1 20210110, GNU ld (GNU Binutils for Debian) 2.35.2) #1 SMP Debian 5.10.223-1 (2024-08-10)"
	if got := DistributionVersion(debian); got != "5.10.223" {
		t.Errorf("DistributionVersion(Debian 11) = %q, want 5.10.223", got)
	}
	if got := DistributionVersion("Linux version 6.18.44 (root@x) (gcc 12) #1 SMP"); got != "" {
		t.Errorf("DistributionVersion(upstream) = %q, want \"\"", got)
	}
}

func TestSynUserTimeoutSlack(t *testing.T) {
	// U = 3 s with 4 linear timeouts: SYN firings at 1, 2, 3 s (the last
	// clamped), three 1 s horizons at 32 ms each at HZ=250, plus 16 ms.
	if got, want := SynUserTimeoutSlack(250, 3*s, 4), 3*32*time.Millisecond+16*time.Millisecond; got != want {
		t.Errorf("SynUserTimeoutSlack(250, 3s, 4) = %v, want %v", got, want)
	}
	// Measured: 3.01-3.03 s for U = 3 s, 2.61-2.64 s for U = 2.6 s.
	for u, measured := range map[time.Duration]time.Duration{3 * s: 3030 * time.Millisecond, 2600 * time.Millisecond: 2640 * time.Millisecond} {
		if hi := u + SynUserTimeoutSlack(250, u, 4); measured > hi {
			t.Errorf("U=%v: measured %v past the model's %v", u, measured, hi)
		}
	}
}

func TestTighten(t *testing.T) {
	s := time.Second
	plan := Options{KeepAlive: true, Idle: 8 * s, Interval: 5 * s, Count: 3, UserTimeout: 22600 * time.Millisecond}
	for _, tt := range []struct {
		name     string
		cur      Options
		want     Options
		wantKept []string
	}{
		{"stricter everywhere: kept as it is (issue 19's 1s/1s/2 + 2.5 s)",
			Options{KeepAlive: true, Idle: s, Interval: s, Count: 2, UserTimeout: 2500 * time.Millisecond},
			Options{KeepAlive: true, Idle: s, Interval: s, Count: 2, UserTimeout: 2500 * time.Millisecond},
			[]string{"TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_USER_TIMEOUT"}},
		{"kernel defaults, keepalive off: the plan",
			Options{Idle: 7200 * s, Interval: 75 * s, Count: 9, SynCount: 6},
			plan, nil},
		{"a stricter idle only; no user timeout is the loosest",
			Options{KeepAlive: true, Idle: 2 * s, Interval: 75 * s, Count: 9},
			Options{KeepAlive: true, Idle: 2 * s, Interval: 5 * s, Count: 3, UserTimeout: 22600 * time.Millisecond},
			[]string{"TCP_KEEPIDLE"}},
	} {
		got, kept := Tighten(tt.cur, plan)
		if got != tt.want || !slices.Equal(kept, tt.wantKept) {
			t.Errorf("%s: Tighten = %+v, kept %v; want %+v, kept %v", tt.name, got, kept, tt.want, tt.wantKept)
		}
	}
}

// TestKeepaliveFire: tcp_keepalive_timer's three outcomes, worked out from
// net/ipv4/tcp_timer.c by hand (units: jiffies).
func TestKeepaliveFire(t *testing.T) {
	for _, tt := range []struct {
		name                       string
		elapsed, idle, intvl, user int64
		probes, count              int
		want                       KeepaliveStep
		ahead                      int64
	}{
		{"heard 100 ago, idle 500: re-arm for 400", 100, 500, 250, 0, 0, 3, KeepaliveRearm, 400},
		{"first firing: probe", 500, 500, 250, 0, 0, 3, KeepaliveProbe, 250},
		{"count reached: kill", 1250, 500, 250, 0, 3, 3, KeepaliveKill, 0},
		{"count not reached: probe", 1000, 500, 250, 0, 2, 3, KeepaliveProbe, 250},
		{"user timeout passed, no probe out: probe", 900, 500, 250, 800, 0, 9, KeepaliveProbe, 250},
		{"user timeout passed, probe out: kill", 800, 500, 250, 800, 1, 9, KeepaliveKill, 0},
		{"user timeout not yet: probe past count", 750, 500, 250, 800, 9, 1, KeepaliveProbe, 250},
	} {
		got, ahead := KeepaliveFire(tt.elapsed, tt.idle, tt.intvl, tt.user, tt.probes, tt.count)
		if got != tt.want || ahead != tt.ahead {
			t.Errorf("%s: got %v, %d; want %v, %d", tt.name, got, ahead, tt.want, tt.ahead)
		}
	}
}

// TestKeepaliveLeft: time left from a socket's keepalive clock, worked
// out by hand.
func TestKeepaliveLeft(t *testing.T) {
	s := time.Second
	for _, tt := range []struct {
		name           string
		k              Keepalive
		quiet, expires time.Duration
		probes         int
		want           time.Duration
	}{
		{"2/1/2, pending first firing at 1.5 s", Keepalive{Idle: 2 * s, Interval: s, Count: 2}, s / 2, 3 * s / 2, 0, 3500 * time.Millisecond},
		{"2/1/2, one probe out, next firing in 1 s", Keepalive{Idle: 2 * s, Interval: s, Count: 2}, 3 * s, s, 1, 2 * s},
		{"5/1/9 U=8 s, silent 0, first firing in 5 s", Keepalive{Idle: 5 * s, Interval: s, Count: 9, UserTimeout: 8 * s}, 0, 5 * s, 0, 8 * s},
		// Two firings came late: silent 7.6 s with 2 probes out, next in
		// 0.9 s: 8.5 s ≥ 8 s kills there, not at the nominal 8 s.
		{"5/1/9 U=8 s, late firings", Keepalive{Idle: 5 * s, Interval: s, Count: 9, UserTimeout: 8 * s}, 7600 * time.Millisecond, 900 * time.Millisecond, 2, 900 * time.Millisecond},
		{"7/3/4 U=5 s: one lost probe kills", Keepalive{Idle: 7 * s, Interval: 3 * s, Count: 4, UserTimeout: 5 * s}, 2 * s, 5 * s, 0, 8 * s},
	} {
		if got := tt.k.Left(tt.quiet, tt.expires, tt.probes); got != tt.want {
			t.Errorf("%s: Left = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestRetransmitLeft: the time left on a retransmitting socket, worked
// out by hand from tcp_retransmit_timer's backoff (tcp_retries2 15 from
// 200 ms gives up at 1044.4 s; a user timeout U at U).
func TestRetransmitLeft(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		name                 string
		user                 time.Duration
		r                    Retransmitting
		left, total, counted time.Duration
	}{
		{"no tcp_info: a probe or RTO pending, then a 200 ms RTO, then the count", 0, Retransmitting{Expires: 150 * ms}, 150*ms + 200*ms + 1044400*ms, 1044400 * ms, 0},
		{"first RTO pending, U = 3 s", 3 * time.Second, Retransmitting{RTO: 400 * ms, Expires: 300 * ms}, 300*ms + 400*ms + 3*time.Second, 3 * time.Second, 0},
		{"backoff 3 from 200 ms, timer half run, U = 3 s", 3 * time.Second, Retransmitting{RTO: 1600 * ms, Backoff: 3, Expires: 1000 * ms}, 1200 * ms, 3 * time.Second, 1800 * ms},
		{"past U: the next firing", 3 * time.Second, Retransmitting{RTO: 6400 * ms, Backoff: 5, Expires: 90 * ms}, 90 * ms, 3 * time.Second, 6000*ms + 6310*ms},
	} {
		left, total, counted := RetransmitLeft(DefaultRetries2, tt.user, tt.r)
		if left != tt.left || total != tt.total || counted != tt.counted {
			t.Errorf("%s: got %v, %v, %v; want %v, %v, %v", tt.name, left, total, counted, tt.left, tt.total, tt.counted)
		}
	}
	if got := BaseRTO(1600*ms, 3); got != 200*ms {
		t.Errorf("BaseRTO(1.6 s, 3) = %v, want 200ms", got)
	}
	if got := BaseRTO(300*ms, 2); got != MinRTO {
		t.Errorf("BaseRTO(300 ms, 2) = %v, want the 200 ms floor", got)
	}
}

// TestHZFromKeepaliveTime: tcp_keepalive_time is kept as seconds × HZ.
func TestHZFromKeepaliveTime(t *testing.T) {
	if hz, err := HZFromKeepaliveTime(7200*250, 2*time.Hour); hz != 250 || err != nil {
		t.Errorf("7200 s as 1,800,000 jiffies: %d, %v; want 250", hz, err)
	}
	for _, bad := range []struct {
		j int64
		d time.Duration
	}{{1000, 0}, {0, time.Hour}, {1001, 2 * time.Second}} {
		if _, err := HZFromKeepaliveTime(bad.j, bad.d); err == nil {
			t.Errorf("%d jiffies, %v: no error", bad.j, bad.d)
		}
	}
	if got := JiffiesDuration(250, 1000); got != 4*time.Second {
		t.Errorf("1000 jiffies at 250: %v, want 4s", got)
	}
	if got := JiffiesDuration(0, 1000); got != 0 {
		t.Errorf("jiffies at unknown HZ: %v, want 0", got)
	}
	if got := KeepaliveSeconds(300, 2999); got != 9*time.Second {
		t.Errorf("2999 jiffies at 300 read as %v, want 9s (rounded down)", got)
	}
}

// TestTightenRTOMax: the plan's RTO cap is set with the plan's user
// timeout, and left alone with a stricter one the socket keeps.
func TestTightenRTOMax(t *testing.T) {
	s := time.Second
	plan := Options{KeepAlive: true, Idle: 8 * s, Interval: s, Count: 15, UserTimeout: 22600 * time.Millisecond, RTOMax: 5 * s}
	if got, _ := Tighten(Options{Idle: 7200 * s, Interval: 75 * s, Count: 9, RTOMax: 120 * s}, plan); got.RTOMax != 5*s {
		t.Errorf("plan's user timeout: RTOMax %v, want 5s", got.RTOMax)
	}
	if got, _ := Tighten(Options{KeepAlive: true, Idle: s, Interval: s, Count: 2, UserTimeout: 2500 * time.Millisecond, RTOMax: 120 * s}, plan); got.RTOMax != 0 {
		t.Errorf("a stricter user timeout kept: RTOMax %v, want 0 (left alone)", got.RTOMax)
	}
}
