package lab

import (
	"fmt"
	"math"
	"time"

	"github.com/flatline-dev/flatline"
)

// SoakWorkload is what a soak's connections do while the path loses
// packets.
type SoakWorkload string

// The soak's workloads.
const (
	// SoakIdle connections send nothing: only keepalive probes (and the
	// heartbeat's pings) cross the path.
	SoakIdle SoakWorkload = "idle"
	// SoakTrickle connections write TrickleSize bytes every TricklePeriod
	// and the server echoes them: a small write each way every period.
	SoakTrickle SoakWorkload = "trickle"
)

// The trickle workload's writes.
const (
	TricklePeriod = time.Second
	TrickleSize   = 16
)

// SoakWorkloads lists the soak's workloads in table order.
func SoakWorkloads() []SoakWorkload { return []SoakWorkload{SoakIdle, SoakTrickle} }

// SoakConfigs lists the configurations a soak compares by default.
func SoakConfigs() []ConfigName {
	return []ConfigName{Flatline, GoDefault, KeepaliveOnly, FlatlineHeartbeat}
}

// SoakLosses lists the loss rates a soak runs by default: 1 % and 5 %
// each way.
func SoakLosses() []Loss { return []Loss{10, 50} }

// SoakConfig is a soak run: Conns connections per configuration ×
// workload × loss rate, all held at once for Duration through a router
// that drops each group's packets at random (nftables, per group's ports),
// counting the connections the client saw fail although the server never
// went away: false kills.
type SoakConfig struct {
	// Conns is the number of connections per group. Zero means 1000.
	Conns int
	// Timeout is T: flatline's plan and the scaled story configuration
	// derive from it. Zero means flatline.DefaultTimeout (30 s).
	Timeout time.Duration
	// Configs, Workloads and Losses select the groups. Nil means
	// SoakConfigs, SoakWorkloads, SoakLosses.
	Configs   []ConfigName
	Workloads []SoakWorkload
	Losses    []Loss
	// Duration is how long every group holds its connections once they are
	// open. Zero means 3 minutes.
	Duration time.Duration
	// Endpoint is the argv of a program that calls RunEndpoint when
	// EndpointEnv is set (the flatline binary: flatline lab endpoint). The
	// soak runs each group's server and client in processes of their own
	// (the open-file limit is per process).
	Endpoint []string
	// Progress, when set, receives one line per step for people.
	Progress func(string)
}

// maxSoakConns bounds Conns: a group's client process holds two sockets a
// connection with the heartbeat, under a hard open-file limit of 20,000.
const maxSoakConns = 9000

// SoakResult is a soak run's outcome, for people and programs.
type SoakResult struct {
	Conns     int     `json:"conns"`
	TimeoutS  float64 `json:"timeout_s"`
	DurationS float64 `json:"duration_s"`
	// Model names the prediction the groups carry.
	Model string `json:"model"`
	// BacklogDrops counts packets the host's per-CPU input backlogs
	// dropped during the soak (net.core.netdev_max_backlog =
	// Backlog; /proc/net/softnet_stat, host-wide, so other programs'
	// traffic counts too): loss beyond the router's random loss, in bursts
	// that hit every group at once.
	BacklogDrops uint64      `json:"backlog_drops"`
	Backlog      int         `json:"netdev_max_backlog"`
	Groups       []SoakGroup `json:"groups"`
}

// SoakGroup is one configuration × workload × loss rate.
type SoakGroup struct {
	Config   ConfigName        `json:"config"`
	Workload SoakWorkload      `json:"workload"`
	LossPct  float64           `json:"loss_pct"`
	Socket   flatline.Settings `json:"socket"` // the client's keepalive and user timeout
	Opened   int               `json:"opened"`
	// DialFailed counts connections that could not be opened through the
	// lossy path (their SYNs and retries lost): not false kills.
	DialFailed int     `json:"dial_failed"`
	HeldS      float64 `json:"held_s"` // mean time a connection was held, s
	Killed     int     `json:"killed"`
	// Causes counts the kills by flatline.Diagnose's cause (or the
	// heartbeat's).
	Causes map[string]int `json:"causes"`
	// PerConnHour is the model's expected false kills per connection-hour;
	// Predicted the expected kills of Opened connections over HeldS and
	// PredictedRange its central 95 % Poisson interval. Nil where the
	// model has no answer for the group.
	PerConnHour    *float64 `json:"predicted_per_conn_hour"`
	Predicted      *float64 `json:"predicted"`
	PredictedRange *[2]int  `json:"predicted_range"`
	// RouterDrops is what the group's loss rules dropped, both ways.
	RouterDrops uint64 `json:"router_drops"`
	// Retransmits and SegsOut sum tcp_info's tcpi_total_retrans and
	// tcpi_segs_out over the group's client sockets at the end: the
	// retransmitted share, an estimate of the loss one way that the
	// sockets themselves saw.
	Retransmits uint64 `json:"retransmits"`
	SegsOut     uint64 `json:"segs_out"`
	// KillTimes are the kills' times from the group's start, s.
	KillTimes []float64 `json:"kill_times_s"`
}

// Name is the group's row name: config/workload/loss.
func (g SoakGroup) Name() string {
	return fmt.Sprintf("%s/%s/%g%%", g.Config, g.Workload, g.LossPct)
}

// InRange reports whether the kills fall inside the prediction's
// interval; ok false without a prediction.
func (g SoakGroup) InRange() (in, ok bool) {
	if g.PredictedRange == nil {
		return false, false
	}
	return g.Killed >= g.PredictedRange[0] && g.Killed <= g.PredictedRange[1], true
}

func (c SoakConfig) withDefaults() (SoakConfig, error) {
	if c.Conns == 0 {
		c.Conns = 1000
	}
	if c.Conns < 1 || c.Conns > maxSoakConns {
		return c, fmt.Errorf("soak: %d connections per group: want 1 to %d", c.Conns, maxSoakConns)
	}
	if c.Timeout == 0 {
		c.Timeout = flatline.DefaultTimeout
	}
	if c.Duration == 0 {
		c.Duration = 3 * time.Minute
	}
	if c.Duration < time.Second || c.Duration > 24*time.Hour {
		return c, fmt.Errorf("soak: duration %v: want 1s to 24h", c.Duration)
	}
	if c.Configs == nil {
		c.Configs = SoakConfigs()
	}
	if c.Workloads == nil {
		c.Workloads = SoakWorkloads()
	}
	if c.Losses == nil {
		c.Losses = SoakLosses()
	}
	for _, n := range c.Configs {
		if !soakConfig(n) {
			return c, fmt.Errorf("soak: configuration %q: want one of %v", n, SoakConfigs())
		}
		if _, err := n.Settings(c.Timeout); err != nil {
			return c, err
		}
	}
	for _, w := range c.Workloads {
		if w != SoakIdle && w != SoakTrickle {
			return c, fmt.Errorf("soak: workload %q: want idle or trickle", w)
		}
	}
	for _, l := range c.Losses {
		if l == 0 || l >= LossScale {
			return c, fmt.Errorf("soak: loss %d per %d: want 1 to %d", uint32(l), LossScale, LossScale-1)
		}
	}
	if n := len(c.Configs) * len(c.Workloads) * len(c.Losses); n == 0 || n > maxSoakGroups {
		return c, fmt.Errorf("soak: %d groups: want 1 to %d", n, maxSoakGroups)
	}
	if len(c.Endpoint) == 0 {
		return c, fmt.Errorf("soak: no endpoint program to run the servers and clients")
	}
	return c, nil
}

// maxSoakGroups bounds the groups (two processes and two ports each).
const maxSoakGroups = 64

func soakConfig(n ConfigName) bool {
	switch n {
	case Flatline, GoDefault, KeepaliveOnly, KeepaliveUserTimeout, FlatlineHeartbeat:
		return true
	}
	return false
}

// poissonRange is the central 95 % interval of a Poisson count with mean
// mu, capped at n: the smallest k with P(X ≤ k) ≥ 2.5 % and the smallest
// with P(X ≤ k) ≥ 97.5 %. Above a mean of 500 the normal approximation.
func poissonRange(mu float64, n int) [2]int {
	if mu <= 0 {
		return [2]int{0, 0}
	}
	if mu > 500 {
		d := 1.96 * math.Sqrt(mu)
		return [2]int{max(0, int(math.Floor(mu-d))), min(n, int(math.Ceil(mu+d)))}
	}
	lo, hi := -1, -1
	p := math.Exp(-mu)
	cdf := 0.0
	for k := 0; k <= n; k++ {
		if k > 0 {
			p *= mu / float64(k)
		}
		cdf += p
		if lo < 0 && cdf >= 0.025 {
			lo = k
		}
		if cdf >= 0.975 {
			hi = k
			break
		}
	}
	if lo < 0 {
		lo = n
	}
	if hi < 0 {
		hi = n
	}
	return [2]int{lo, hi}
}
