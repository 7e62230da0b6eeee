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
		// idle, interval, count, user timeout (ms), SYN count, spread (s)
		{5 * time.Second, values{idle: 2, intvl: 1, cnt: 2, userTimeout: 3600, spread: 1}},
		{30 * time.Second, values{idle: 8, intvl: 1, cnt: 15, userTimeout: 22600, spread: 7}}, // the loss-tolerant chain (docs/false-kills.md)
	} {
		p, err := flatline.Config{Timeout: tt.timeout}.Plan()
		if err != nil {
			t.Fatal(err)
		}
		got, err := valuesOf(p, false)
		if err != nil || got != tt.want {
			t.Errorf("valuesOf(plan of %v) = %+v, %v; want %+v", tt.timeout, got, err, tt.want)
		}
		// The jitter stays inside the plan's idle bound: Spread whole
		// seconds at most.
		if time.Duration(got.spread)*time.Second > p.Spread {
			t.Errorf("spread %d s above the plan's %v", got.spread, p.Spread)
		}
	}
	p, _ := flatline.Config{Timeout: 5 * time.Second, Spread: flatline.NoSpread}.Plan()
	if v, _ := valuesOf(p, true); v.spread != 0 || !v.allowLooser {
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
