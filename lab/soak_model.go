package lab

import (
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/liveness"
)

// soakModelName names the prediction soakPerHour makes.
const soakModelName = "kernel.FalseKills (docs/false-kills.md): idle, the keepalive cycle's q^n with the timer wheel's lateness; trickle, a write's transmissions within the user timeout (tcp_retries2 without); heartbeat, plus the liveness link's own risk"

// soakPerHour is the false-kill model's expected kills per connection-hour
// of a group's client: configuration c (settings s) running workload w at
// loss l each way and timeout t, on host h (its HZ and tcp_retries2). For
// the heartbeat it adds the liveness link's risk to the data connection's.
// A trickle connection is modelled as sending (one write a period): its
// keepalive, which fires only when an echo is late by more than Idle minus
// the period, is not counted.
func soakPerHour(c ConfigName, w SoakWorkload, s flatline.Settings, l Loss, t time.Duration, h flatline.Host) (float64, error) {
	e := kernel.Exposure{
		Options:    kernel.Options(s),
		HZ:         h.HZ,
		Retries2:   h.Retries2,
		WriteEvery: TricklePeriod,
		Path:       kernel.Path{Loss: l.Fraction()},
	}
	if c == FlatlineHeartbeat {
		p, err := liveness.Config{Timeout: t}.Plan()
		if err != nil {
			return 0, err
		}
		e.Heartbeat = kernel.Heartbeat{Interval: p.Interval, MaxInterval: p.MaxInterval, Deadline: p.Deadline}
	}
	f, err := kernel.FalseKills(e)
	if err != nil {
		return 0, err
	}
	rate := f.Idle.PerHour
	if w == SoakTrickle {
		rate = f.Sending.PerHour
	}
	if f.Heartbeat != nil {
		rate += f.Heartbeat.PerHour
	}
	return rate, nil
}
