package lab

import (
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/storm"
)

// StormConfig is a storm run in the lab: N idle connections from the client
// namespace through a router that polices ACK-only packets, one round per
// strategy.
type StormConfig struct {
	// Conns is the number of connections per strategy. Zero means 2000.
	Conns int
	// Config is the flatline configuration whose plan gives every
	// strategy its keepalive settings and spread budget. Zero Count means
	// 3 (the planner would choose more for long timeouts, enough for even
	// static timers to ride out a storm on this link). Zero Timeout
	// means 10s, or more for many connections: the smallest timeout whose
	// flatline plan keeps the worst burst within four fifths of the host's
	// CPU backlog (net.core.netdev_max_backlog), which cuts larger bursts
	// before the router sees them; flatline.DefaultTimeout when that fits
	// and the search would pass it (at 20,000 connections and HZ=250 with
	// a backlog of 1000: 30s, the plan `flatline plan --conns 20000`
	// forecasts).
	Config flatline.Config
	// Strategies to run, in order. Nil means static, jitter, coprime,
	// flatline.
	Strategies []storm.Strategy
	// PerSecond and Burst set the router's ACK policer. Zero means derive
	// them from the model: a burst of twice the packets (probes and
	// answers) of flatline's predicted worst burst, so that two timer
	// buckets merged by a late softirq still pass, and twice the average
	// packet rate: the link carries spread probes but not bursts.
	PerSecond, Burst uint32
	// Observe is how long each strategy's connections are watched after
	// the last one is open. Zero means Spread + Idle + UserTimeout + 2·Idle.
	Observe time.Duration
	// Holder is the argv that starts a connection holder: a program that
	// calls RunStormHolder when StormHolderEnv is set (the flatline
	// binary's `flatline lab storm holder`, or a test binary whose TestMain
	// does). The connections are held in several such processes, at most
	// 4,000 each, so that a storm may exceed one process's descriptor
	// limit. Required.
	Holder []string
	// Progress, when set, receives one line per step for people.
	Progress func(string)
	// Frames, when set, receives every frame the router captured for a
	// strategy (for writing a pcap).
	Frames func(s storm.Strategy, frames []storm.Frame)
}

// StormResult is a storm run's outcome, for people and programs.
type StormResult struct {
	Conns     int            `json:"conns"`
	HZ        int            `json:"hz"`
	Keepalive StormKeepalive `json:"keepalive"`
	SpreadS   float64        `json:"spread_s"`
	PerSecond uint32         `json:"police_per_second"`
	Burst     uint32         `json:"police_burst"`
	ObserveS  float64        `json:"observe_s"`
	WindowS   float64        `json:"window_s"` // a burst: probes within one tick
	// Backlog is net.core.netdev_max_backlog: veth hands packets to the
	// peer through a per-CPU backlog of this many, so a larger burst from
	// one CPU in one tick is cut there, before the router sees it.
	Backlog int `json:"netdev_max_backlog"`
	// HostPerTick is the most probes the client host passes in one tick
	// (its CPUs times kernel.BacklogBurst(Backlog)), the model's limit;
	// 0 unknown. The endpoints send through a pfifo_fast qdisc, as real
	// hosts do, so the probes over it are lost unseen by TCP.
	HostPerTick int             `json:"host_probes_per_tick"`
	Strategies  []StormStrategy `json:"strategies"`
}

// StormKeepalive is Keepalive for programs.
type StormKeepalive struct {
	IdleS        float64 `json:"idle_s"`
	IntervalS    float64 `json:"interval_s"`
	Count        int     `json:"count"`
	UserTimeoutS float64 `json:"user_timeout_s"`
}

// StormStrategy is one strategy's round.
type StormStrategy struct {
	Name                storm.Strategy `json:"name"`
	FalseDead           int            `json:"false_dead"`
	WorstBurst          int            `json:"worst_burst"`
	PredictedWorstBurst int            `json:"predicted_worst_burst"`
	// PredictedRange is the spread of the prediction over the model's
	// unknowns: random draws the library made, the tick phase.
	PredictedRange [2]int `json:"predicted_worst_burst_range"`
	// WorstBurstBeforeLoss is the worst burst of the probes sent before
	// their connection's first loss the capture shows (storm.BeforeLoss),
	// and PredictedWorstBurstBeforeLoss the model's, counted alike
	// (storm.Result.TimesBeforeLoss). A lost probe moves its connection's
	// phase; the model knows the losses it causes (the policer, the host's
	// backlogs cutting a burst) but not those of other programs' traffic
	// in the host's CPU backlogs, so these two compare the strategy's own
	// phases. Equal to the worst bursts when nothing was lost.
	WorstBurstBeforeLoss          int `json:"worst_burst_before_loss"`
	PredictedWorstBurstBeforeLoss int `json:"predicted_worst_burst_before_loss"`
	// ProbesAfterLoss counts the probes left out of WorstBurstBeforeLoss
	// (retries and the probes after them), WorstBurstAfterLoss those of
	// them in the window of WorstBurst.
	ProbesAfterLoss     int `json:"probes_after_loss"`
	WorstBurstAfterLoss int `json:"worst_burst_after_loss"`
	Probes              int `json:"probes"`
	// ProbesMissing counts probes the router never saw, read from each
	// connection's probe times (a retry k intervals later than an
	// answered probe's successor would come): lost in the sending host.
	// ProbesUnanswered counts probes it saw that were retried one
	// interval later: lost beyond the capture, or their answers lost.
	// Both 0 when the interval is not below the idle time.
	ProbesMissing      int    `json:"probes_missing"`
	ProbesUnanswered   int    `json:"probes_unanswered"`
	PredictedProbes    int    `json:"predicted_probes"`
	PredictedFalseDead int    `json:"predicted_false_dead"`
	Policed            uint64 `json:"policed"`       // packets the router's policer dropped
	CaptureDrops       uint32 `json:"capture_drops"` // frames the capture itself lost
	// BacklogDrops counts packets dropped by full CPU backlogs during the
	// round (host-wide /proc/net/softnet_stat, so other traffic counts too).
	BacklogDrops uint64  `json:"backlog_drops"`
	Histogram    []int   `json:"histogram"` // probes per BinS from the first connection
	BinS         float64 `json:"bin_s"`
	// ProbeTimes are the probe times (from the round's start) for charts.
	ProbeTimes []time.Duration `json:"-"`
	// DeadTimes are the false deaths' times.
	DeadTimes []time.Duration `json:"-"`
}

// DefaultStormStrategies are the strategies a storm run compares by default.
func DefaultStormStrategies() []storm.Strategy {
	return []storm.Strategy{storm.Static, storm.Jitter, storm.Coprime, storm.Flatline}
}
