package flatline

import (
	"errors"
	"testing"
	"time"
)

// TestMaxIdle: derived keepalive idle and interval stay at or below
// MaxIdle (DefaultMaxIdle when zero), the promise still holds, and an
// explicit Idle above the bound is an error naming Idle.
func TestMaxIdle(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		maxIdle time.Duration // 0: no bound expected
	}{
		{"30 s timeout, untouched", Config{Timeout: 30 * time.Second}, DefaultMaxIdle},
		{"10 min timeout, default bound", Config{Timeout: 10 * time.Minute}, DefaultMaxIdle},
		{"1 h timeout, default bound", Config{Timeout: time.Hour}, DefaultMaxIdle},
		{"1 h timeout, 5 min bound", Config{Timeout: time.Hour, MaxIdle: 5 * time.Minute}, 5 * time.Minute},
		{"1 h timeout, 30 s bound", Config{Timeout: time.Hour, MaxIdle: 30 * time.Second}, 30 * time.Second},
		{"1 h user timeout, no bound", Config{Timeout: time.Hour, UserTimeout: 50 * time.Minute, MaxIdle: NoMaxIdle}, 0},
		{"no bound", Config{Timeout: time.Hour, MaxIdle: NoMaxIdle}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.cfg.Plan()
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			s := p.Settings
			if tc.maxIdle > 0 && (s.Idle > tc.maxIdle || s.Interval > tc.maxIdle) {
				t.Errorf("Idle %v, Interval %v: want both at most %v", s.Idle, s.Interval, tc.maxIdle)
			}
			if tc.maxIdle == 0 && s.Idle <= DefaultMaxIdle {
				t.Errorf("NoMaxIdle: Idle %v, want the unbounded derivation (above %v)", s.Idle, DefaultMaxIdle)
			}
			if b := p.Bound(StateIdle); b.Never || b.Worst > tc.cfg.Timeout {
				t.Errorf("idle bound %+v, want at most Timeout %v", b, tc.cfg.Timeout)
			}
		})
	}
}

func TestMaxIdleErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Timeout: time.Hour, Idle: 5 * time.Minute}, "Idle"},
		{Config{Timeout: time.Hour, Interval: 3 * time.Minute}, "Interval"},
		{Config{Timeout: time.Hour, Idle: 5 * time.Minute, MaxIdle: time.Minute}, "Idle"},
		{Config{MaxIdle: -2 * time.Second}, "MaxIdle"},
		{Config{Timeout: time.Hour, UserTimeout: 50 * time.Minute}, "UserTimeout"},
		{Config{MaxIdle: time.Millisecond}, "MaxIdle"},
	} {
		err := tc.cfg.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%+v: Validate() = %v, want a ConfigError on %s", tc.cfg, err, tc.field)
		}
	}
	if err := (Config{Timeout: time.Hour, Idle: 5 * time.Minute, MaxIdle: NoMaxIdle}).Validate(); err != nil {
		t.Errorf("Idle 5m with NoMaxIdle: %v, want nil", err)
	}
}
