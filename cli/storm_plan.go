package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/storm"
)

// stormPlanJSON is the storm part of `flatline plan --conns N [--burst B]`.
type stormPlanJSON struct {
	Conns      int                 `json:"conns"`
	HZ         int                 `json:"hz"`
	BucketS    float64             `json:"bucket_s"`
	Floor      int                 `json:"floor"`
	Strategies []stormForecastJSON `json:"strategies"`
	Burst      int                 `json:"burst,omitempty"`
	// Recommended is null when --burst is not given or no timeout up to an
	// hour keeps the worst burst within it.
	Recommended *stormRecommendJSON `json:"recommended"`
}

type stormForecastJSON struct {
	Name            string  `json:"name"`
	WorstBurst      int     `json:"worst_burst"`
	ProbesPerSecond float64 `json:"probes_per_second"`
}

type stormRecommendJSON struct {
	TimeoutS   float64           `json:"timeout_s"`
	Settings   flatline.Settings `json:"settings"`
	SpreadS    float64           `json:"spread_s"`
	WorstBurst int               `json:"worst_burst"`
}

// newStormPlan predicts the keepalive bursts of conns connections made
// together with cfg, at hz: the plan's basis, this host's HZ (0, unknown:
// the worst over the common values).
func newStormPlan(ctx context.Context, cfg flatline.Config, conns, burst, hz int) (*stormPlanJSON, error) {
	if conns < 1 || conns > storm.MaxForecastConns {
		return nil, usagef("--conns %d: want 1 to %d (the model follows every probe of every connection; forecast per process beyond that)", conns, storm.MaxForecastConns)
	}
	if burst < 0 {
		return nil, usagef("--burst must not be negative")
	}
	f, err := storm.PredictContext(ctx, cfg, conns, hz, burst)
	if err != nil {
		return nil, err
	}
	out := &stormPlanJSON{Conns: f.Conns, HZ: f.HZ, BucketS: f.Bucket.Seconds(), Floor: f.Floor, Burst: burst}
	for _, s := range f.Strategies {
		out.Strategies = append(out.Strategies, stormForecastJSON{Name: string(s.Strategy), WorstBurst: s.WorstBurst, ProbesPerSecond: s.ProbesPerSecond})
	}
	if r := f.Recommended; r != nil {
		st := r.Plan.Settings
		out.Recommended = &stormRecommendJSON{
			TimeoutS: r.Timeout.Seconds(),
			Settings: st,
			SpreadS:  r.Plan.Spread.Seconds(), WorstBurst: r.WorstBurst,
		}
	}
	return out, nil
}

func (s *stormPlanJSON) writeTable(w io.Writer) error {
	sec := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	fmt.Fprintf(w, "\nkeepalive bursts of %d connections made together (HZ=%d: timers this far ahead fire in %v buckets)\n", s.Conns, s.HZ, sec(s.BucketS))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "strategy\tworst burst (probes in one tick)\tprobes/s\n")
	what := map[string]string{"static": "static timers", "jitter": "whole-second jitter of the idle time", "flatline": "flatline's spread"}
	for _, f := range s.Strategies {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\n", what[f.Name], f.WorstBurst, f.ProbesPerSecond)
	}
	fmt.Fprintf(tw, "timer-wheel floor\t%d\t\n", s.Floor)
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.Burst == 0 {
		return nil
	}
	if s.Recommended == nil {
		fmt.Fprintf(w, "no timeout up to 1h keeps bursts within %d probes: fewer connections per host, or a link that takes larger bursts\n", s.Burst)
		return nil
	}
	r := s.Recommended
	fmt.Fprintf(w, "for a link that tolerates bursts of %d probes: --timeout %v (keepalive %v/%v/%d, user timeout %d ms, spread %v): worst burst %d\n",
		s.Burst, sec(r.TimeoutS), r.Settings.Idle, r.Settings.Interval, r.Settings.Count, r.Settings.UserTimeout.Milliseconds(), sec(r.SpreadS), r.WorstBurst)
	return nil
}
