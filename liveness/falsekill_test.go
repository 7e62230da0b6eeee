package liveness

import (
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

func TestPlanFalseKills(t *testing.T) {
	for _, timeout := range []time.Duration{3 * time.Second, 30 * time.Second} {
		p, err := Config{Timeout: timeout}.Plan()
		if err != nil {
			t.Fatal(err)
		}
		conn, _ := flatline.Config{Timeout: timeout}.Plan()
		k, err := conn.FalseKills(0.01)
		if err != nil {
			t.Fatal(err)
		}
		h, err := p.FalseKills(conn.Settings, 0.01)
		if err != nil {
			t.Fatal(err)
		}
		if h.State != StateHeartbeat || h.PerHour <= 0 || h.OutageSurvived <= 0 || h.OutageSurvived >= p.Deadline {
			t.Errorf("T=%v: %+v", timeout, h)
		}
		// Where keepalive has no room (3 s), the heartbeat is what works.
		if idle := k.State(flatline.StateIdle).PerHour; timeout == 3*time.Second && h.PerHour > idle/1000 {
			t.Errorf("T=3s at 1 %%: heartbeat %.3g an hour, keepalive %.3g: want the heartbeat far safer", h.PerHour, idle)
		}
	}
	if _, err := (Plan{}).FalseKills(flatline.Settings{}, 1); err == nil {
		t.Error("loss 1: want an error")
	}
}
