package liveness

import (
	"errors"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/google/go-cmp/cmp"
)

func TestPlanDefaults(t *testing.T) {
	tests := []struct {
		cfg  Config
		want Plan
	}{
		{Config{}, Plan{
			Timeout: 30 * time.Second, Deadline: 28500 * time.Millisecond, PauseBudget: 15 * time.Second,
			Interval: 6 * time.Second, MinInterval: 4500 * time.Millisecond, MaxInterval: 7500 * time.Millisecond,
			RTTAllowance: 6 * time.Second, LocalPause: 1500 * time.Millisecond,
		}},
		{Config{Timeout: 5 * time.Second}, Plan{
			Timeout: 5 * time.Second, Deadline: 4750 * time.Millisecond, PauseBudget: 2500 * time.Millisecond,
			Interval: time.Second, MinInterval: 750 * time.Millisecond, MaxInterval: 1250 * time.Millisecond,
			RTTAllowance: time.Second, LocalPause: 250 * time.Millisecond,
		}},
		{Config{Timeout: 10 * time.Second, Progress: 20 * time.Second}, Plan{
			Timeout: 10 * time.Second, Deadline: 9500 * time.Millisecond, PauseBudget: 5 * time.Second,
			Interval: 2 * time.Second, MinInterval: 1500 * time.Millisecond, MaxInterval: 2500 * time.Millisecond,
			RTTAllowance: 2 * time.Second, LocalPause: 500 * time.Millisecond,
			Progress: 20 * time.Second, ProgressBound: 22500 * time.Millisecond,
		}},
		// A larger pause budget: the interval shrinks to keep T/5 for the round trip.
		{Config{Timeout: 10 * time.Second, PauseBudget: 6 * time.Second}, Plan{
			Timeout: 10 * time.Second, Deadline: 9500 * time.Millisecond, PauseBudget: 6 * time.Second,
			Interval: 1200 * time.Millisecond, MinInterval: 900 * time.Millisecond, MaxInterval: 1500 * time.Millisecond,
			RTTAllowance: 2 * time.Second, LocalPause: 500 * time.Millisecond,
		}},
		// A set interval: the budget is what is left.
		{Config{Timeout: 10 * time.Second, Interval: 4 * time.Second}, Plan{
			Timeout: 10 * time.Second, Deadline: 9500 * time.Millisecond, PauseBudget: 2500 * time.Millisecond,
			Interval: 4 * time.Second, MinInterval: 3 * time.Second, MaxInterval: 5 * time.Second,
			RTTAllowance: 2 * time.Second, LocalPause: 500 * time.Millisecond,
		}},
	}
	for _, tt := range tests {
		got, err := tt.cfg.Plan()
		if err != nil {
			t.Errorf("%+v: %v", tt.cfg, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%+v.Plan() (-want +got):\n%s", tt.cfg, diff)
		}
	}
}

// TestPlanPromise checks the arithmetic the bounds rest on over many
// configurations: a pause within the budget plus the longest interval plus
// the round-trip allowance fits in the deadline, and the deadline in T.
func TestPlanPromise(t *testing.T) {
	for _, tt := range []time.Duration{MinTimeout, time.Second, 3 * time.Second, 7 * time.Second, time.Minute} {
		for _, frac := range []float64{0, 0.1, 0.3, 0.5, 0.6} {
			cfg := Config{Timeout: tt, PauseBudget: time.Duration(frac * float64(tt))}
			p, err := cfg.Plan()
			if err != nil {
				t.Errorf("%+v: %v", cfg, err)
				continue
			}
			if p.Deadline >= p.Timeout {
				t.Errorf("%+v: Deadline %v not below Timeout %v", cfg, p.Deadline, p.Timeout)
			}
			if got := p.PauseBudget + p.MaxInterval + p.RTTAllowance; got != p.Deadline {
				t.Errorf("%+v: budget+interval+allowance = %v, want Deadline %v", cfg, got, p.Deadline)
			}
			if p.RTTAllowance < tt/20 || p.MinInterval <= 0 || p.MinInterval > p.MaxInterval {
				t.Errorf("%+v: unsound plan %+v", cfg, p)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{Timeout: -time.Second}, "Timeout"},
		{Config{Timeout: 50 * time.Millisecond}, "Timeout"},
		{Config{Timeout: 10 * time.Second, PauseBudget: 9 * time.Second}, "PauseBudget"},
		{Config{Timeout: 10 * time.Second, Interval: 8 * time.Second}, "Interval"},
		{Config{Timeout: 10 * time.Second, PauseBudget: 5 * time.Second, Interval: 3500 * time.Millisecond}, "PauseBudget"},
		{Config{Timeout: 10 * time.Second, Progress: time.Second}, "Progress"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field || !errors.Is(err, flatline.ErrInvalidConfig) {
			t.Errorf("%+v.Validate() = %v, want a ConfigError on %s", tt.cfg, err, tt.field)
		}
	}
}

// TestJitter: every ping interval lies within the plan's bounds, and they
// spread over them (links made together do not stay in lockstep).
func TestJitter(t *testing.T) {
	p, err := Config{Timeout: 5 * time.Second}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	m := &Monitor{plan: p}
	lo, hi := p.MaxInterval, p.MinInterval
	for range 1000 {
		iv := m.interval()
		if iv < p.MinInterval || iv > p.MaxInterval {
			t.Fatalf("interval %v outside [%v, %v]", iv, p.MinInterval, p.MaxInterval)
		}
		lo, hi = min(lo, iv), max(hi, iv)
	}
	if spread := hi - lo; spread < (p.MaxInterval-p.MinInterval)*8/10 {
		t.Errorf("1000 intervals spread over %v only, of %v", spread, p.MaxInterval-p.MinInterval)
	}
}
