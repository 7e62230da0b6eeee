package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/spf13/cobra"
)

// planFlags are the flags of `flatline plan`.
type planFlags struct {
	cfg   flatline.Config
	json  bool
	conns int    // storm forecast for this many connections (0: none)
	burst int    // the burst the link tolerates (0: no recommendation)
	loss  string // --loss: false-kill forecast at this random loss each way ("" none)
}

func newPlanCmd() *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show the socket settings a timeout derives and the worst case per connection state",
		Long: `plan derives keepalive, TCP_USER_TIMEOUT and connect settings from one
timeout (the longest a dead peer may go unnoticed) and shows, for every state a
connection can be in, the worst case to notice a silent peer, beside what Go's
default net.Dialer and Linux's defaults give for the same states.`,
		Example: `  flatline plan --timeout 30s
  flatline plan --timeout 10s --json
  flatline plan --timeout 3s --loss 1%`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.cfg.Timeout, "timeout", flatline.DefaultTimeout, "longest a dead peer may go unnoticed")
	fl.DurationVar(&f.cfg.Idle, "idle", 0, "override TCP_KEEPIDLE (whole seconds; 0 derives it)")
	fl.DurationVar(&f.cfg.Interval, "interval", 0, "override TCP_KEEPINTVL (whole seconds; 0 derives it)")
	fl.IntVar(&f.cfg.Count, "count", 0, "override TCP_KEEPCNT (0 derives it)")
	fl.DurationVar(&f.cfg.UserTimeout, "user-timeout", 0, "override TCP_USER_TIMEOUT (0 derives it)")
	fl.DurationVar(&f.cfg.ConnectTimeout, "connect-timeout", 0, "override the dial deadline (0 means --timeout)")
	fl.DurationVar(&f.cfg.Spread, "spread", 0, "override the keepalive spread (0 derives it, -1ns turns it off)")
	fl.BoolVar(&f.json, "json", false, "print JSON for programs instead of the table")
	fl.IntVar(&f.conns, "conns", 0, "also predict the keepalive bursts of this many connections made together")
	fl.StringVar(&f.loss, "loss", "", "also predict false kills of live peers at this random loss each way (1% or 0.01)")
	fl.IntVar(&f.burst, "burst", 0, "with --conns: the burst (probes at once) the link tolerates; recommends the smallest timeout within it")
	return cmd
}

// planReport is what `flatline plan` prints, for people and as JSON.
type planReport struct {
	TimeoutS        float64           `json:"timeout_s"`
	Settings        flatline.Settings `json:"settings"` // its one JSON form
	ConnectTimeoutS float64           `json:"connect_timeout_s"`
	SpreadS         float64           `json:"spread_s"`
	Basis           basisJSON         `json:"basis"`
	States          []stateReport     `json:"states"`
	Notes           []string          `json:"notes"`
	Storm           *stormPlanJSON    `json:"storm,omitempty"`     // with --conns
	Loss            *float64          `json:"loss,omitempty"`      // with --loss
	Heartbeat       *falseKillJSON    `json:"heartbeat,omitempty"` // with --loss
}

// basisJSON is the host every column's bounds are computed for: this
// host's sysctls and HZ when readable, else a stock kernel of unknown HZ
// (timer slack then the largest over 100, 250, 300 and 1000).
type basisJSON struct {
	Host string `json:"host"` // "this host" or "linux defaults"
	HZ   int    `json:"hz"`   // 0: unknown
}

func (b basisJSON) String() string {
	hz := fmt.Sprintf("HZ=%d", b.HZ)
	if b.HZ == 0 {
		hz = "HZ unknown: the largest over 100, 250, 300, 1000"
	}
	return fmt.Sprintf("%s, %s", b.Host, hz)
}

type stateReport struct {
	State        flatline.State `json:"state"`
	Flatline     boundJSON      `json:"flatline"`
	GoDefault    boundJSON      `json:"go_default"`
	LinuxDefault boundJSON      `json:"linux_default"`
}

// boundJSON is a flatline.Bound for programs: worst_s is null for never.
type boundJSON struct {
	WorstS     *float64 `json:"worst_s"`
	SlackS     float64  `json:"slack_s"`
	LostProbes int      `json:"lost_probes"`
	Rule       string   `json:"rule"`
	// With --loss: the false-kill model's figures (absent without).
	*falseKillFields
	b flatline.Bound
}

func newBoundJSON(b flatline.Bound) boundJSON {
	j := boundJSON{SlackS: b.Slack.Seconds(), LostProbes: b.LostProbes, Rule: b.Rule, b: b}
	if !b.Never {
		w := b.Worst.Seconds()
		j.WorstS = &w
	}
	return j
}

// newPlanReport computes every column for one host, read once: this
// host when its sysctls are readable, else a stock kernel of unknown HZ.
func newPlanReport(cfg flatline.Config, loss string) (planReport, error) {
	basis := basisJSON{Host: "this host"}
	host, err := flatline.ReadHost("/")
	if err != nil {
		host, basis.Host = flatline.LinuxDefaults(), "linux defaults"
	}
	basis.HZ = host.HZ
	p, err := cfg.PlanFor(host)
	if err != nil {
		return planReport{}, usageError{err}
	}
	goDefault := flatline.GoDialerSettings().Bounds(host)
	linuxDefault := host.DefaultSettings().Bounds(host)
	r := planReport{
		TimeoutS:        p.Timeout.Seconds(),
		Settings:        p.Settings,
		ConnectTimeoutS: p.ConnectTimeout.Seconds(),
		SpreadS:         p.Spread.Seconds(),
		Basis:           basis,
		Notes:           append([]string{}, p.Notes...),
	}
	for i, b := range p.Bounds {
		r.States = append(r.States, stateReport{
			State:        b.State,
			Flatline:     newBoundJSON(b),
			GoDefault:    newBoundJSON(goDefault[i]),
			LinuxDefault: newBoundJSON(linuxDefault[i]),
		})
	}
	if loss != "" {
		l, err := parseLoss(loss)
		if err != nil {
			return planReport{}, err
		}
		if err := r.addLoss(p, host, l); err != nil {
			return planReport{}, err
		}
	}
	return r, nil
}

func runPlan(ctx context.Context, w io.Writer, f planFlags) error {
	r, err := newPlanReport(f.cfg, f.loss)
	if err != nil {
		return err
	}
	if f.conns != 0 || f.burst != 0 {
		if r.Storm, err = newStormPlan(ctx, f.cfg, f.conns, f.burst, r.Basis.HZ); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("plan: interrupted before the forecast of %d connections finished", f.conns)
			}
			return err
		}
	}
	if f.json {
		return writeJSON(w, r)
	}
	return r.writeTable(w)
}

func (r planReport) writeTable(w io.Writer) error {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	fmt.Fprintf(w, "flatline plan: a dead peer is noticed within %v\n\n", sec(r.TimeoutS))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "socket option\tvalue\n")
	fmt.Fprintf(tw, "SO_KEEPALIVE\t%v\n", onOff(r.Settings.KeepAlive))
	fmt.Fprintf(tw, "TCP_KEEPIDLE\t%v\n", r.Settings.Idle)
	fmt.Fprintf(tw, "TCP_KEEPINTVL\t%v\n", r.Settings.Interval)
	fmt.Fprintf(tw, "TCP_KEEPCNT\t%d\n", r.Settings.Count)
	fmt.Fprintf(tw, "TCP_USER_TIMEOUT\t%d ms\n", r.Settings.UserTimeout.Milliseconds())
	if r.Settings.RTOMax > 0 {
		fmt.Fprintf(tw, "TCP_RTO_MAX_MS\t%d ms (Linux 6.15+)\n", r.Settings.RTOMax.Milliseconds())
	}
	fmt.Fprintf(tw, "connect timeout\t%v\n", sec(r.ConnectTimeoutS))
	if r.SpreadS > 0 {
		fmt.Fprintf(tw, "keepalive spread\tre-armed at random within %v of connecting\n", sec(r.SpreadS))
	} else {
		fmt.Fprintf(tw, "keepalive spread\toff\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nworst case to notice a silent peer (+ kernel timer slack; every column for %v)\n", r.Basis)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "state\tflatline\tlost probes ok\tGo net.Dialer (15s/15s/9)\tLinux default\n")
	for _, s := range r.States {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.State, s.Flatline.b, lostProbes(s.State, s.Flatline.b), s.GoDefault.b, s.LinuxDefault.b)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nwhy (flatline):\n")
	for _, s := range r.States {
		fmt.Fprintf(w, "  %-14s %s\n", s.State, s.Flatline.Rule)
	}
	if r.Loss != nil {
		if err := r.writeLossTable(w); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.Storm != nil {
		return r.Storm.writeTable(w)
	}
	return nil
}

func lostProbes(s flatline.State, b flatline.Bound) string {
	if b.Never || (s != flatline.StateIdle && s != flatline.StateReceiving) {
		return "-"
	}
	return fmt.Sprint(b.LostProbes)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
