package flatline

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/google/go-cmp/cmp"
)

const s = time.Second

func TestDerivation(t *testing.T) {
	tests := []struct {
		cfg    Config
		want   Settings
		spread time.Duration
	}{
		// The same Idle and spread as 8s/5s/3 had, the same budget spent on
		// fifteen probe exchanges (lossTolerantChain).
		{Config{}, Settings{KeepAlive: true, Idle: 8 * s, Interval: 1 * s, Count: 15, UserTimeout: 22600 * time.Millisecond}, 7 * s},
		{Config{Timeout: 3 * s}, Settings{KeepAlive: true, Idle: 1 * s, Interval: 1 * s, Count: 2, UserTimeout: 2600 * time.Millisecond}, 0},
		{Config{Timeout: 3500 * time.Millisecond}, Settings{KeepAlive: true, Idle: 1 * s, Interval: 1 * s, Count: 2, UserTimeout: 2600 * time.Millisecond}, 500 * time.Millisecond},
		{Config{Timeout: 5 * s}, Settings{KeepAlive: true, Idle: 2 * s, Interval: 1 * s, Count: 2, UserTimeout: 3600 * time.Millisecond}, 1 * s},
		// 4s/1s/3 and a 3 s spread: 0.8 false kills an idle hour at 5 %
		// loss; two seconds of the spread (one is kept for storms) and one
		// of idle go to probes: 1e-3. NoSpread gives all of it: 9.6e-5.
		{Config{Timeout: 10 * s}, Settings{KeepAlive: true, Idle: 3 * s, Interval: 1 * s, Count: 6, UserTimeout: 8600 * time.Millisecond}, 1 * s},
		{Config{Timeout: 10 * s, Spread: NoSpread}, Settings{KeepAlive: true, Idle: 3 * s, Interval: 1 * s, Count: 7, UserTimeout: 9600 * time.Millisecond}, 0},
		{Config{Timeout: 20 * s}, Settings{KeepAlive: true, Idle: 7 * s, Interval: 1 * s, Count: 9, UserTimeout: 15600 * time.Millisecond}, 4 * s},
		{Config{Timeout: time.Minute}, Settings{KeepAlive: true, Idle: 17 * s, Interval: 2 * s, Count: 15, UserTimeout: 46600 * time.Millisecond}, 13 * s},
		{Config{Spread: NoSpread}, Settings{KeepAlive: true, Idle: 8 * s, Interval: 1 * s, Count: 15, UserTimeout: 22600 * time.Millisecond}, 0},
		{Config{UserTimeout: 10 * s}, Settings{KeepAlive: true, Idle: 7 * s, Interval: 1 * s, Count: 3, UserTimeout: 10 * s}, 7 * s},
		// 8 s/1 s/3 would put 10.5 s within the timers' lateness of the
		// third probe (up to 0.8 s late): the interval widens instead.
		{Config{UserTimeout: 10500 * time.Millisecond}, Settings{KeepAlive: true, Idle: 5 * s, Interval: 2 * s, Count: 3, UserTimeout: 10500 * time.Millisecond}, 5 * s},
		{Config{Idle: 3 * s, Interval: 2 * s}, Settings{KeepAlive: true, Idle: 3 * s, Interval: 2 * s, Count: 3, UserTimeout: 8600 * time.Millisecond}, 3 * s},
		{Config{Count: 5}, Settings{KeepAlive: true, Idle: 8 * s, Interval: 3 * s, Count: 5, UserTimeout: 22600 * time.Millisecond}, 7 * s},
		{Config{Count: 1}, Settings{KeepAlive: true, Idle: 12 * s, Interval: 7 * s, Count: 1, UserTimeout: 19 * s}, 11 * s},
		// The original story's settings, made consistent.
		{Config{Timeout: 30 * s, Idle: 10 * s, Interval: 10 * s, Count: 2}, Settings{KeepAlive: true, Idle: 10 * s, Interval: 10 * s, Count: 2, UserTimeout: 29600 * time.Millisecond}, 0},
	}
	for _, tt := range tests {
		p, err := tt.cfg.Plan()
		if err != nil {
			t.Errorf("%+v: %v", tt.cfg, err)
			continue
		}
		got := p.Settings
		got.RTOMax = 0 // TestRTOMax
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%+v: settings (-want +got):\n%s", tt.cfg, diff)
		}
		if p.Spread != tt.spread {
			t.Errorf("%+v: spread %v, want %v", tt.cfg, p.Spread, tt.spread)
		}
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
		says  string // a phrase the sentence must hold
	}{
		{"negative timeout", Config{Timeout: -s}, "Timeout", "negative"},
		{"negative idle", Config{Idle: -s}, "Idle", "negative"},
		{"negative interval", Config{Interval: -s}, "Interval", "negative"},
		{"negative count", Config{Count: -1}, "Count", "negative"},
		{"negative user timeout", Config{UserTimeout: -s}, "UserTimeout", "negative"},
		{"negative connect", Config{ConnectTimeout: -s}, "ConnectTimeout", "negative"},
		{"negative spread", Config{Spread: -2}, "Spread", "NoSpread"},
		{"timeout too short", Config{Timeout: 2 * s}, "Timeout", "use at least 3s"},
		{"timeout too long", Config{Timeout: 25 * time.Hour}, "Timeout", "at most"},
		{"sub-second idle", Config{Idle: 500 * time.Millisecond}, "Idle", "whole number of seconds"},
		{"fractional interval", Config{Interval: 1500 * time.Millisecond}, "Interval", "use 1s or 2s"},
		{"sub-millisecond user timeout", Config{UserTimeout: 10*s + 1}, "UserTimeout", "milliseconds"},
		{"count above 127", Config{Count: 128}, "Count", "127"},
		{"idle above kernel limit", Config{Timeout: 24 * time.Hour, Idle: 40000 * s}, "Idle", "32767"},
		{"single lost probe kills", Config{Idle: 10 * s, Interval: 10 * s, Count: 2, UserTimeout: 15 * s}, "UserTimeout", "single lost keepalive probe"},
		{"count ignored", Config{Idle: 5 * s, Interval: 5 * s, Count: 2, UserTimeout: 20 * s}, "UserTimeout", "ignores Count"},
		{"count cut short", Config{Idle: 5 * s, Interval: 2 * s, Count: 4, UserTimeout: 10 * s}, "UserTimeout", "before Count 4"},
		{"user timeout leaves no room for the first RTO", Config{Timeout: 3 * s, Idle: s, Interval: s, Count: 2, UserTimeout: 3 * s}, "UserTimeout", "at most 2.6s"},
		{"overrides exceed timeout", Config{Timeout: 30 * s, Idle: 20 * s}, "Idle", "more than Timeout"},
		{"spread exceeds timeout", Config{Timeout: 30 * s, Spread: 20 * s}, "Spread", "Spread"},
		{"connect exceeds timeout", Config{Timeout: 10 * s, ConnectTimeout: 20 * s}, "ConnectTimeout", "longer than Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil {
				t.Fatalf("Validate(%+v) = nil, want an error about %s", tt.cfg, tt.field)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v is not a *ConfigError matching ErrInvalidConfig", err)
			}
			if ce.Field != tt.field {
				t.Errorf("field %q, want %q (%v)", ce.Field, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			if _, perr := tt.cfg.Plan(); perr == nil || perr.Error() != err.Error() {
				t.Errorf("Plan error %v differs from Validate error %v", perr, err)
			}
		})
	}
}

// TestPromiseHolds checks the derivation's promise over the whole range:
// every bounded state within Timeout, slack within max(0.5 s, 10 %),
// count honoured, lost probes tolerated (two from 10 s).
func TestPromiseHolds(t *testing.T) {
	for ms := int64(3000); ms <= int64(MaxTimeout/time.Millisecond); ms = ms*21/20 + 1 {
		timeout := time.Duration(ms) * time.Millisecond
		checkPromise(t, Config{Timeout: timeout})
	}
}

func checkPromise(t *testing.T, c Config) {
	t.Helper()
	p, err := c.Plan()
	if err != nil {
		t.Fatalf("%+v: %v", c, err)
	}
	maxSlack := max(500*time.Millisecond, p.Timeout/10)
	for _, b := range p.Bounds {
		if b.Never {
			t.Fatalf("T=%v: %s never detected", p.Timeout, b.State)
		}
		if b.Worst > p.Timeout {
			t.Errorf("T=%v: %s worst %v exceeds the timeout", p.Timeout, b.State, b.Worst)
		}
		if b.Slack > maxSlack {
			t.Errorf("T=%v: %s slack %v above %v", p.Timeout, b.State, b.Slack, maxSlack)
		}
	}
	// The derived chain sends at most Count probes to a dead peer (the
	// idle bound) and at least two (no single lost probe kills); the
	// timers' lateness may end it a probe or two before Count
	// (checkDerivedChain), which LostProbes reports.
	if d := death(t, p.Settings); d.MaxProbes != p.Settings.Count || d.MinProbes < 2 || p.LostProbes() != d.MinProbes-1 {
		t.Errorf("T=%v: user timeout %v ends after %d-%d probes, count is %d, lost probes %d", p.Timeout, p.Settings.UserTimeout, d.MinProbes, d.MaxProbes, p.Settings.Count, p.LostProbes())
	}
	wantLost := 1
	if p.Timeout >= 10*time.Second {
		wantLost = 2
	}
	if p.LostProbes() < wantLost {
		t.Errorf("T=%v: tolerates %d lost probes, want at least %d", p.Timeout, p.LostProbes(), wantLost)
	}
	// The loss design point (issue 16): at 5 % loss each way, at most 1e-4
	// false kills per idle connection-hour, 1e-6 from 30 s; from 11 s with
	// a second of spread kept (10 s needs NoSpread: TestDerivation).
	if p.Timeout >= 11*time.Second {
		want := DesignFalseKills(p.Timeout)
		if got := idleFalseKills(p.Settings.Idle, p.Settings.Interval, p.Settings.Count, DesignLoss); got > want {
			t.Errorf("T=%v: %v/%v/%d predicts %.3g false kills per idle connection-hour at 5 %% loss, want at most %g", p.Timeout, p.Settings.Idle, p.Settings.Interval, p.Settings.Count, got, want)
		}
	}
	if p.Settings.Idle < p.Settings.Interval {
		t.Errorf("T=%v: idle %v below interval %v", p.Timeout, p.Settings.Idle, p.Settings.Interval)
	}
}

func FuzzPlan(f *testing.F) {
	f.Add(int64(30e9), int64(0), int64(0), 0, int64(0), int64(0), int64(0))
	f.Add(int64(3e9), int64(1e9), int64(1e9), 2, int64(3e9), int64(0), int64(-1))
	f.Add(int64(0), int64(10e9), int64(10e9), 2, int64(15e9), int64(5e9), int64(1))
	f.Fuzz(func(t *testing.T, timeout, idle, interval int64, count int, user, connect, spread int64) {
		c := Config{
			Timeout: time.Duration(timeout), Idle: time.Duration(idle), Interval: time.Duration(interval),
			Count: count, UserTimeout: time.Duration(user), ConnectTimeout: time.Duration(connect), Spread: time.Duration(spread),
		}
		p, err := c.Plan()
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v does not match ErrInvalidConfig", err)
			}
			return
		}
		// What Plan accepts keeps the promise, overrides or not.
		for _, b := range p.Bounds {
			if b.Never || b.Worst > p.Timeout {
				t.Fatalf("%+v: %s bound %v past timeout %v", c, b.State, b, p.Timeout)
			}
		}
		derivedChain := c.Idle == 0 && c.Interval == 0 && c.Count == 0 && c.UserTimeout == 0
		if d := death(t, p.Settings); (d.MinProbes < p.Settings.Count && !derivedChain) || d.MaxProbes > p.Settings.Count || d.MinProbes < min(2, p.Settings.Count) {
			t.Fatalf("%+v: count %d silently overridden (dies after %d-%d probes)", c, p.Settings.Count, d.MinProbes, d.MaxProbes)
		}
	})
}

// death is the kernel model's keepalive death for s on a kernel of unknown
// HZ: what Validate and Bounds compute with.
func death(t testing.TB, s Settings) kernel.Death {
	t.Helper()
	d, err := kernel.Options(s).Keepalive().Death(0)
	if err != nil {
		t.Fatalf("%+v: %v", s, err)
	}
	return d
}

// The overrides that passed Validate although the kernel ends them before
// Count probes: each keepalive firing comes up to one timer-wheel bucket
// late and the lateness adds up (measured: U = 2.01 s with 1 s/1 s/2 dies
// at 2.04 s after one probe).
func TestValidateRejectsAccumulatedLateness(t *testing.T) {
	for _, c := range []Config{
		{Timeout: 3 * s, Idle: s, Interval: s, Count: 2, UserTimeout: 2010 * time.Millisecond},
		{Timeout: 10 * s, Idle: 2 * s, Interval: 2 * s, Count: 3, UserTimeout: 6010 * time.Millisecond},
		{Timeout: 30 * s, Idle: 5 * s, Interval: 5 * s, Count: 4, UserTimeout: 20020 * time.Millisecond},
	} {
		err := c.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "UserTimeout" {
			t.Errorf("%+v: Validate = %v, want a UserTimeout error", c, err)
			continue
		}
		t.Logf("%+v: %v", c, err)
		// What the error proposes is accepted.
		fixed := c
		fixed.UserTimeout = kernel.SafeUserTimeout(0, c.Idle, c.Interval, c.Count)
		if err := fixed.Validate(); err != nil {
			t.Errorf("%+v: the proposed UserTimeout %v is rejected too: %v", c, fixed.UserTimeout, err)
		}
	}
}

// TestRTOMax: the derived TCP_RTO_MAX_MS keeps a connection writing every
// second below the design point where the kernel's own backoff does not
// (5 s at 30 s: 10 transmissions within 22.6 s instead of 8), none where
// it does or where no cap can, and overrides are checked.
func TestRTOMax(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{}, 5 * s},
		{Config{Timeout: 10 * s}, 2 * s},
		{Config{Timeout: 20 * s}, 0}, // the kernel's backoff already meets 1e-4
		{Config{Timeout: 3 * s}, 0},  // no cap meets it: none
		{Config{RTOMax: 2 * s}, 2 * s},
		{Config{RTOMax: NoRTOMax}, 0},
	} {
		p, err := tt.cfg.Plan()
		if err != nil {
			t.Fatal(err)
		}
		if p.Settings.RTOMax != tt.want {
			t.Errorf("%+v: RTOMax %v, want %v", tt.cfg, p.Settings.RTOMax, tt.want)
		}
	}
	for _, bad := range []time.Duration{500 * time.Millisecond, 121 * s, -2, s + 1} {
		err := Config{RTOMax: bad}.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "RTOMax" {
			t.Errorf("RTOMax %v: %v, want an RTOMax error", bad, err)
		}
	}
	// Before 6.15 the cap is not set: the forecast says what the kernel's
	// own backoff gives instead.
	h := LinuxDefaults()
	h.Kernel = "6.12.48+deb13-amd64"
	p, err := Config{}.PlanFor(h)
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.FalseKills(0.05)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Join(f.Notes, "\n"); !strings.Contains(n, "kernel 6.12.48 has no TCP_RTO_MAX_MS") || f.State(StateSending).Exchanges != 8 {
		t.Errorf("6.12: sending %d transmissions, notes %q; want 8 and a note", f.State(StateSending).Exchanges, n)
	}
}
