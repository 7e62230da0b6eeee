package enforce

import (
	"errors"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

func TestValuesOf(t *testing.T) {
	for _, tt := range []struct {
		timeout time.Duration
		want    values
	}{
		// idle, interval, count, user timeout (ms), SYN count, jitter
		// offsets and step (s)
		{5 * time.Second, values{idle: 2, intvl: 1, cnt: 2, userTimeout: 3600}},
		{30 * time.Second, values{idle: 8, intvl: 1, cnt: 15, userTimeout: 22600, offsets: 7, step: 1}}, // the loss-tolerant chain (docs/false-kills.md)
	} {
		p, err := flatline.Config{Timeout: tt.timeout}.Plan()
		if err != nil {
			t.Fatal(err)
		}
		got, err := valuesOf(p, false)
		if err != nil || got != tt.want {
			t.Errorf("valuesOf(plan of %v) = %+v, %v; want %+v", tt.timeout, got, err, tt.want)
		}
		// The largest jitter stays below Spread (inside the idle bound).
		if j := time.Duration(max(got.offsets, 1)-1) * time.Duration(got.step) * time.Second; j >= max(p.Spread, time.Nanosecond) {
			t.Errorf("largest jitter %v not below the plan's spread %v", j, p.Spread)
		}
	}
	p, _ := flatline.Config{Timeout: 5 * time.Second, Spread: flatline.NoSpread}.Plan()
	if v, _ := valuesOf(p, true); v.offsets > 1 || !v.allowLooser {
		t.Errorf("NoSpread, allow looser: %+v", v)
	}
	if _, err := valuesOf(flatline.Plan{}, false); err == nil {
		t.Error("valuesOf(a plan without keepalive) succeeded")
	}
}

func TestNotSupportedNamesKernel(t *testing.T) {
	err := error(&flatline.NotSupportedError{Feature: featureSetsockopt, Needs: needsSetsockopt, GOOS: "linux"})
	if !errors.Is(err, flatline.ErrNotSupported) {
		t.Fatal("not ErrNotSupported")
	}
	if got := err.Error(); got != "flatline: "+featureSetsockopt+" is not supported on linux (needs Linux 5.9)" {
		t.Errorf("error %q", got)
	}
}
