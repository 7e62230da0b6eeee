package storm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// Forecast is the model's worst burst for one strategy.
type Forecast struct {
	Strategy   Strategy `json:"strategy"`
	WorstBurst int      `json:"worst_burst"` // probes in one tick, median over random draws
	// ProbesPerSecond is the mean probe rate once every connection is armed.
	ProbesPerSecond float64 `json:"probes_per_second"`
}

// Recommendation is the smallest timeout whose flatline plan keeps the
// predicted worst burst within a tolerated burst.
type Recommendation struct {
	Timeout    time.Duration `json:"timeout_ns"`
	Plan       flatline.Plan `json:"-"`
	WorstBurst int           `json:"worst_burst"`
}

// StormForecast predicts keepalive bursts of n connections made together
// with one Config.
type StormForecast struct {
	Conns  int           `json:"conns"`
	HZ     int           `json:"hz"`
	Bucket time.Duration `json:"bucket_ns"` // the wheel's bucket at the idle time
	// Floor is the smallest worst burst the timer wheel allows with this
	// plan's spread: n · bucket / min(Spread, Idle).
	Floor      int        `json:"floor"`
	Strategies []Forecast `json:"strategies"`
	// Tolerated is the burst the link tolerates (0: not given).
	Tolerated int `json:"tolerated"`
	// Recommended is set when Tolerated is: the smallest timeout (in whole
	// seconds, up to an hour) whose flatline spreading keeps the worst
	// burst within it; nil if none does.
	Recommended *Recommendation `json:"recommended"`
}

// Forecast strategies: the original, the story's fix, flatline's Spread.
var forecastStrategies = [...]Strategy{Static, Jitter, Flatline}

// MaxForecastConns is the most connections Predict models: the model
// follows every probe of every connection (100,000 take about half a
// minute of CPU and 220 MB on a 2-core machine; `flatline plan --conns
// 100000`), and a per-host forecast beyond that is better made per
// process.
const MaxForecastConns = 100_000

// Predict is PredictContext without a way to stop it.
func Predict(cfg flatline.Config, n, hz, tolerated int) (StormForecast, error) {
	return PredictContext(context.Background(), cfg, n, hz, tolerated)
}

// PredictContext runs the model for n connections created at the same instant
// with cfg's plan, for static timers, whole-second jitter and flatline's
// spreading. With tolerated > 0 it also searches the smallest timeout whose
// flatline plan keeps the worst burst within tolerated. An unknown hz (≤ 0)
// means, as everywhere in flatline, the worst over the common HZ values:
// the forecast of the HZ whose flatline burst is largest (its HZ field
// says which).
//
// It stops, returning ctx's error, when ctx ends (checked between model
// runs, each a fraction of the whole).
func PredictContext(ctx context.Context, cfg flatline.Config, n, hz, tolerated int) (StormForecast, error) {
	if n < 1 || n > MaxForecastConns {
		return StormForecast{}, fmt.Errorf("storm: forecast for %d connections: want 1 to %d", n, MaxForecastConns)
	}
	if hz <= 0 {
		var worst StormForecast
		for _, h := range kernel.CommonHZ() {
			f, err := PredictContext(ctx, cfg, n, h, tolerated)
			if err != nil {
				return f, err
			}
			if worst.HZ == 0 || f.Strategies[len(f.Strategies)-1].WorstBurst > worst.Strategies[len(worst.Strategies)-1].WorstBurst {
				worst = f
			}
		}
		return worst, nil
	}
	if _, err := kernel.NewWheel(hz); err != nil {
		return StormForecast{}, err
	}
	plan, err := cfg.Plan()
	if err != nil {
		return StormForecast{}, err
	}
	k := KeepaliveOf(plan.Settings)
	f := StormForecast{Conns: n, HZ: hz, Bucket: kernel.Granularity(hz, k.Idle), Tolerated: tolerated}
	f.Floor = floorOf(plan, n, hz)
	for _, s := range forecastStrategies {
		fc, err := forecast(ctx, s, plan, n, hz)
		if err != nil {
			return f, err
		}
		f.Strategies = append(f.Strategies, fc)
	}
	if tolerated > 0 {
		f.Recommended, err = recommend(ctx, cfg, n, hz, tolerated)
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

// floorOf is the wheel's floor for plan: n · bucket / min(Spread, Idle),
// or n without spreading.
func floorOf(plan flatline.Plan, n, hz int) int {
	if plan.Spread <= 0 {
		return n
	}
	k := plan.Settings
	return Floor(n, kernel.Granularity(hz, k.Idle), min(plan.Spread, k.Idle))
}

func forecast(ctx context.Context, s Strategy, plan flatline.Plan, n, hz int) (Forecast, error) {
	k := KeepaliveOf(plan.Settings)
	spread := max(plan.Spread, 0)
	horizon := spread + 6*(k.Idle+k.Interval)
	seeds := 1
	if s != Static {
		seeds = 5
	}
	var worsts []int
	var rate float64
	for seed := range seeds {
		if err := ctx.Err(); err != nil {
			return Forecast{}, err
		}
		conns, err := Conns(s, k, spread, nil, n, rand.New(rand.NewPCG(uint64(seed), 3)))
		if err != nil {
			return Forecast{}, err
		}
		r, err := Model{Clock: Clock{HZ: hz}, Horizon: horizon}.Run(conns)
		if err != nil {
			return Forecast{}, err
		}
		worsts = append(worsts, WorstBurst(r.Times(), r.Tick).Probes)
		from := spread + k.Idle + kernel.Granularity(hz, k.Idle)
		steady := 0
		for _, p := range r.Probes {
			if p.At >= from {
				steady++
			}
		}
		if horizon > from {
			rate = float64(steady) / (horizon - from).Seconds()
		}
	}
	slices.Sort(worsts)
	return Forecast{Strategy: s, WorstBurst: worsts[len(worsts)/2], ProbesPerSecond: rate}, nil
}

// Recommend is PredictContext's recommendation alone: the smallest timeout from
// cfg's upward whose flatline plan keeps the worst burst of n connections
// made together within tolerated; nil if none up to an hour does.
func Recommend(ctx context.Context, cfg flatline.Config, n, hz, tolerated int) (*Recommendation, error) {
	if n < 1 || n > MaxForecastConns || tolerated < 1 {
		return nil, fmt.Errorf("storm: recommendation for %d connections within bursts of %d: want 1 to %d connections and a burst of at least 1", n, tolerated, MaxForecastConns)
	}
	return recommend(ctx, cfg, n, hz, tolerated)
}

// recommend scans timeouts from cfg's upward (whole seconds, growing by a
// quarter each step, up to an hour) for the first whose flatline plan
// keeps the worst burst within tolerated. Only Timeout changes: explicit
// overrides in cfg stay.
func recommend(ctx context.Context, cfg flatline.Config, n, hz, tolerated int) (*Recommendation, error) {
	t := cfg.Timeout
	if t <= 0 {
		p, err := cfg.Plan()
		if err != nil {
			return nil, err
		}
		t = p.Timeout
	}
	for t <= time.Hour {
		c := cfg
		c.Timeout = t
		if p, err := c.Plan(); err == nil && p.Spread > 0 && floorOf(p, n, hz)*9/10 <= tolerated {
			fc, err := forecast(ctx, Flatline, p, n, hz)
			if err != nil {
				return nil, err
			}
			if fc.WorstBurst <= tolerated {
				return &Recommendation{Timeout: t, Plan: p, WorstBurst: fc.WorstBurst}, nil
			}
		}
		t = max(t+time.Second, (t * 5 / 4).Truncate(time.Second))
	}
	return nil, nil
}
