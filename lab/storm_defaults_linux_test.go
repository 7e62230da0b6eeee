package lab

import (
	"context"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/storm"
)

// TestStormDefaultTimeout: 10 s unless flatline's predicted worst burst
// at 10 s exceeds four fifths of the CPU backlog; then the smallest
// timeout whose burst fits (what storm.Recommend finds), with three
// keepalive probes unless the Config says otherwise.
func TestStormDefaultTimeout(t *testing.T) {
	for _, tt := range []struct {
		conns, backlog int
		longer         bool
	}{
		{conns: 300, backlog: 1000},
		{conns: 3000, backlog: 0}, // unknown backlog: 10 s
		{conns: 3000, backlog: 200, longer: true},
	} {
		c, plan, err := StormConfig{Conns: tt.conns}.withDefaults(context.Background(), 250, tt.backlog)
		if err != nil {
			t.Fatal(err)
		}
		if c.Config.Count != 3 || plan.Settings.Count != 3 {
			t.Errorf("%d conns: count %d (plan %d), want 3", tt.conns, c.Config.Count, plan.Settings.Count)
		}
		if got := c.Config.Timeout > 10*time.Second; got != tt.longer {
			t.Errorf("%d conns, backlog %d: timeout %v, want longer than 10s: %v", tt.conns, tt.backlog, c.Config.Timeout, tt.longer)
		}
		if !tt.longer {
			continue
		}
		f, err := storm.Predict(flatline.Config{Timeout: c.Config.Timeout, Count: 3}, tt.conns, 250, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range f.Strategies {
			if s.Strategy == storm.Flatline && s.WorstBurst > tt.backlog*4/5 {
				t.Errorf("%d conns at %v: flatline's worst burst %d, over %d", tt.conns, c.Config.Timeout, s.WorstBurst, tt.backlog*4/5)
			}
		}
	}
}
