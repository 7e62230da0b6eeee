package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/lab"
	"github.com/flatline-dev/flatline/storm"
	"github.com/spf13/cobra"
)

type labStormFlags struct {
	conns      int
	timeout    time.Duration
	strategies string
	rate       uint32
	burst      uint32
	json       bool
	chart      string
	pcapDir    string
}

// newLabStormCmd is `flatline lab storm`.
func newLabStormCmd() *cobra.Command {
	var f labStormFlags
	cmd := &cobra.Command{
		Use:   "storm",
		Short: "Open many idle connections through a policed router and count keepalive storms (needs root)",
		Long: `storm opens N idle connections from the client namespace through the
router to the server, without keepalive, then arms keepalive on all of them at
once (connections made together, as after a restart), and makes the router
drop ACK-only packets over a rate (nftables limit) sized so that the link
carries spread probes but not bursts. For each strategy it captures the probes
in the router (AF_PACKET), measures their worst burst (probes within one kernel
tick) against the timer-wheel model's prediction, also over the probes sent
before their connection's first loss (a lost probe moves its connection's
phase, and the model knows only the losses it causes), and counts connections
declared dead (ETIMEDOUT) while the server was alive. The connections are held
in helper processes (this binary again, at most 4,000 connections each), so
that 20,000 fit under a 20,000-descriptor limit.

Strategies: static (everyone armed together, the original storm), jitter
(idle lowered by whole random seconds), coprime (idle values pairwise coprime
and coprime to the interval), flatline (the library's Configure and its
Spread, as its Dialer applies them); also offsets (uniform random arming
delays) and golden (golden-ratio arming delays). Every strategy gets the
keepalive settings that --timeout derives (with three probes) and the same
spread budget. Without --timeout: 10s, or the smallest timeout whose flatline
bursts fit this host's CPU backlog (net.core.netdev_max_backlog), 30s at
20,000 connections here (the plan flatline plan --conns 20000 forecasts).
Both endpoints send through a pfifo_fast qdisc, as real hosts do: a probe
the next hop drops is lost unseen by TCP (without one, a veth refuses a
burst and TCP re-sends the refused probes half a second later, uncounted);
the router receives on every CPU (RPS), as a NIC with RSS does.`,
		Example: `  sudo flatline lab storm
  sudo flatline lab storm --conns 500 --json
  sudo flatline lab storm --chart storm.svg --pcap /tmp/storm`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLabStorm(cmd, f)
		},
	}
	cmd.AddCommand(newLabStormHolderCmd())
	fl := cmd.Flags()
	fl.IntVar(&f.conns, "conns", 2000, "connections per strategy")
	fl.DurationVar(&f.timeout, "timeout", 0, "the flatline timeout whose plan gives every strategy its keepalive settings and spread budget (0: 10s, or the smallest timeout whose flatline bursts fit the host's CPU backlog, e.g. 30s at 20,000 connections)")
	fl.StringVar(&f.strategies, "strategies", "static,jitter,coprime,flatline", "comma-separated strategies: static, jitter, coprime, flatline, offsets, golden, offsets+coprime")
	fl.Uint32Var(&f.rate, "rate", 0, "policer rate, ACK-only packets per second (0: twice the average probe traffic)")
	fl.Uint32Var(&f.burst, "burst", 0, "policer burst, packets (0: twice the packets of flatline's predicted worst burst, probes and answers)")
	fl.BoolVar(&f.json, "json", false, "print JSON for programs instead of the table")
	fl.StringVar(&f.chart, "chart", "", "also write an SVG chart of the probe timelines per strategy to this file (FILE.svg)")
	fl.StringVar(&f.pcapDir, "pcap", "", "also write the router's capture per strategy to DIR/<strategy>.pcap")
	return cmd
}

// newLabStormHolderCmd is `flatline lab storm holder`, hidden: one
// process holding a share of a storm's connections (lab.RunStormHolder),
// started by `flatline lab storm` itself.
func newLabStormHolderCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "holder",
		Short:  "Hold a share of a storm's connections (started by flatline lab storm)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv(lab.StormHolderEnv) == "" {
				return usagef("holder is started by flatline lab storm, not by hand")
			}
			return lab.RunStormHolder(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
}

func runLabStorm(cmd *cobra.Command, f labStormFlags) error {
	if err := checkChartName(f.chart); err != nil {
		return err
	}
	var sts []storm.Strategy
	known := map[storm.Strategy]bool{storm.Flatline: true}
	for _, s := range storm.Strategies() {
		known[s] = true
	}
	for _, s := range strings.Split(f.strategies, ",") {
		st := storm.Strategy(strings.TrimSpace(s))
		if !known[st] {
			return usagef("unknown strategy %q", s)
		}
		sts = append(sts, st)
	}
	if f.conns < 1 {
		return usagef("--conns must be at least 1")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("lab storm: find own executable to run the connection holders: %w", err)
	}
	stderr := cmd.ErrOrStderr()
	start := time.Now()
	cfg := lab.StormConfig{
		Holder:     []string{exe, "lab", "storm", "holder"},
		Conns:      f.conns,
		Config:     flatline.Config{Timeout: f.timeout},
		Strategies: sts,
		PerSecond:  f.rate,
		Burst:      f.burst,
		Progress: func(s string) {
			fmt.Fprintf(stderr, "%6.1fs %s\n", time.Since(start).Seconds(), s)
		},
	}
	var pcapErr error
	if f.pcapDir != "" {
		if err := os.MkdirAll(f.pcapDir, 0o755); err != nil {
			return err
		}
		cfg.Frames = func(s storm.Strategy, frames []storm.Frame) {
			name := filepath.Join(f.pcapDir, string(s)+".pcap")
			if err := writeStormPcap(name, frames); err != nil && pcapErr == nil {
				pcapErr = err
			}
		}
	}
	res, err := lab.RunStorm(cmd.Context(), cfg)
	if res != nil && len(res.Strategies) > 0 {
		out := cmd.OutOrStdout()
		if f.json {
			if jerr := writeJSON(out, res); jerr != nil {
				return jerr
			}
		} else {
			printStorm(out, res)
		}
		if f.chart != "" {
			if cerr := writeStormChart(f.chart, res); cerr != nil {
				return cerr
			}
			fmt.Fprintf(stderr, "chart written to %s\n", f.chart)
		}
	}
	if err != nil {
		return err
	}
	return pcapErr
}

func printStorm(w io.Writer, r *lab.StormResult) {
	fmt.Fprintf(w, "%d idle connections per strategy; keepalive %gs/%gs/%d, user timeout %gs, spread %gs; HZ=%d\n",
		r.Conns, r.Keepalive.IdleS, r.Keepalive.IntervalS, r.Keepalive.Count, r.Keepalive.UserTimeoutS, r.SpreadS, r.HZ)
	fmt.Fprintf(w, "router drops ACK-only packets over %d/s, burst %d; watched %.1fs; a burst is probes within %gms\n\n",
		r.PerSecond, r.Burst, r.ObserveS, r.WindowS*1000)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STRATEGY\tFALSELY DEAD\t(MODEL)\tWORST BURST\t(MODEL)\tBEFORE LOSS\t(MODEL)\tPROBES\t(MODEL)\tPOLICED\tLOST: UNSEEN+UNANSWERED")
	for _, s := range r.Strategies {
		fmt.Fprintf(tw, "%s\t%d of %d\t(%d)\t%d\t(%d)\t%d\t(%d)\t%d\t(%d)\t%d\t%d+%d\n", s.Name, s.FalseDead, r.Conns, s.PredictedFalseDead,
			s.WorstBurst, s.PredictedWorstBurst, s.WorstBurstBeforeLoss, s.PredictedWorstBurstBeforeLoss, s.Probes, s.PredictedProbes, s.Policed, s.ProbesMissing, s.ProbesUnanswered)
	}
	tw.Flush()
	fmt.Fprintln(w, "(lost probes are read from each connection's probe times at the router; the unseen ones were lost in the sending host;")
	fmt.Fprintln(w, " before loss: the probes a connection sent before its first lost one, where its phase is still the strategy's)")
	for _, s := range r.Strategies {
		if s.WorstBurstAfterLoss > 0 {
			fmt.Fprintf(w, "\nnote: %s: %d of the %d probes of the worst burst came from connections that had lost a probe (retries, or phases moved by one)\n", s.Name, s.WorstBurstAfterLoss, s.WorstBurst)
		}
	}
	for _, s := range r.Strategies {
		if s.CaptureDrops > 0 {
			fmt.Fprintf(w, "\nwarning: the capture lost %d frames for %s: its measured bursts are low\n", s.CaptureDrops, s.Name)
		}
		if s.BacklogDrops > 0 {
			fmt.Fprintf(w, "\nnote: %s: %d packets dropped by full CPU input backlogs (net.core.netdev_max_backlog=%d): a burst larger than that from one CPU is cut in the sending host, before the router sees it (host-wide: other programs' traffic counts too)\n",
				s.Name, s.BacklogDrops, r.Backlog)
		}
	}
}

func writeStormChart(path string, r *lab.StormResult) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := lab.WriteStormChart(file, r, 32*time.Millisecond); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

func writeStormPcap(name string, frames []storm.Frame) error {
	file, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := storm.WritePcap(file, frames); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}
