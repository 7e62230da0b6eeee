package liveness

import (
	"fmt"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// StateHeartbeat names the heartbeat's row in a false-kill forecast.
const StateHeartbeat flatline.State = "heartbeat"

// FalseKills predicts how often this heartbeat fails a link whose peer is
// alive when the path drops packets at random with probability loss each
// way (in [0, 1)), over a connection with settings conn (flatline's plan
// for the same Timeout, its RTOMax taken as set) on a short path. A ping fails the link when none
// of its transmissions reaches the peer within Deadline less the longest
// ping interval (an upper bound: answers to the peer's pings count too),
// or when the connection's user timeout runs out with every transmission
// of a ping or an answer unacknowledged. The model is internal/kernel's
// HeartbeatRisk, checked against a simulation of the ping schedule.
func (p Plan) FalseKills(conn flatline.Settings, loss float64) (flatline.FalseKill, error) {
	if !(loss >= 0 && loss < 1) {
		return flatline.FalseKill{}, fmt.Errorf("liveness: loss %v is not a probability below 1: use a value in [0, 1), e.g. 0.01 for 1 %%", loss)
	}
	r := kernel.HeartbeatRisk(kernel.Heartbeat{Interval: p.Interval, MaxInterval: p.MaxInterval, Deadline: p.Deadline},
		conn.UserTimeout, flatline.LinuxDefaults().Retries2, kernel.Path{Loss: loss, RTOMax: conn.RTOMax})
	return flatline.FalseKill{
		State:          StateHeartbeat,
		PerHour:        r.PerHour,
		OutageSurvived: r.OutageSurvived,
		Exchanges:      r.Exchanges,
		Rule:           r.Rule,
	}, nil
}
