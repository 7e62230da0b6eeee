package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/flatline-dev/flatline/lab"
	"github.com/spf13/cobra"
)

type labSoakFlags struct {
	conns     int
	timeout   time.Duration
	duration  time.Duration
	loss      string
	configs   string
	workloads string
	quick     bool
	json      bool
	chart     string
}

// Quick soak: small enough to finish in under 2 minutes with every group.
const (
	quickSoakConns    = 200
	quickSoakDuration = time.Minute
)

// newLabSoakCmd is `flatline lab soak`.
func newLabSoakCmd() *cobra.Command {
	var f labSoakFlags
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Hold many healthy connections through a lossy router and count false kills (needs root)",
		Long: `soak holds N connections per configuration × workload × loss rate at once,
from the client namespace through the router to a plain echo server that never
gives up on a client, while the router drops each group's packets at random
(nftables "numgen random mod 1000 < N drop", no netem). Every connection the
client sees fail is a false kill: its peer was alive. Each group's count is
printed beside the false-kill model's expectation and its 95 % Poisson
interval, with the kills' causes (flatline.Diagnose) and the share of
segments the sockets retransmitted (tcp_info).

Configurations: flatline (the default plan for --timeout), go-default (a zero
net.Dialer: 15s/15s/9), keepalive-only (the story's 10s/10s/2 scaled to
--timeout), keepalive+user-timeout, flatline+heartbeat (flatline plus package
liveness on a companion connection). Workloads: idle, trickle (16 bytes each
way every second). Each group's server and client run in processes of their
own; everything is removed on exit, on error and on Ctrl-C.`,
		Example: `  sudo flatline lab soak --quick
  sudo flatline lab soak --timeout 3s --loss 1% --conns 600 --duration 3m --configs flatline --workloads idle
  sudo flatline lab soak --json --chart soak.svg`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLabSoak(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.conns, "conns", 1000, "connections per group (configuration × workload × loss)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "T: flatline's plan and the scaled story configuration derive from it")
	fl.DurationVar(&f.duration, "duration", 3*time.Minute, "how long every group holds its connections once they are open")
	fl.StringVar(&f.loss, "loss", "1%,5%", "comma-separated loss rates each way (resolution 0.1 %)")
	fl.StringVar(&f.configs, "configs", "flatline,go-default,keepalive-only,flatline+heartbeat", "comma-separated configurations: flatline, go-default, keepalive-only, keepalive+user-timeout, flatline+heartbeat")
	fl.StringVar(&f.workloads, "workloads", "idle,trickle", "comma-separated workloads: idle, trickle")
	fl.BoolVar(&f.quick, "quick", false, fmt.Sprintf("%d connections per group for %v (under 2 minutes in all), unless --conns or --duration are given", quickSoakConns, quickSoakDuration))
	fl.BoolVar(&f.json, "json", false, "print JSON for programs instead of the table")
	fl.StringVar(&f.chart, "chart", "", "also write an SVG chart of killed against predicted per group to this file (FILE.svg)")
	return cmd
}

func runLabSoak(cmd *cobra.Command, f labSoakFlags) error {
	if err := checkChartName(f.chart); err != nil {
		return err
	}
	if f.quick {
		if !cmd.Flags().Changed("conns") {
			f.conns = quickSoakConns
		}
		if !cmd.Flags().Changed("duration") {
			f.duration = quickSoakDuration
		}
	}
	cfg := lab.SoakConfig{Conns: f.conns, Timeout: f.timeout, Duration: f.duration}
	if f.conns < 1 {
		return usagef("--conns must be at least 1")
	}
	if f.timeout <= 0 || f.duration <= 0 {
		return usagef("--timeout and --duration must be positive")
	}
	for _, s := range splitList(f.loss) {
		l, err := lab.ParseLoss(s)
		if err != nil {
			return usagef("--loss: %v", err)
		}
		cfg.Losses = append(cfg.Losses, l)
	}
	for _, s := range splitList(f.configs) {
		cfg.Configs = append(cfg.Configs, lab.ConfigName(s))
	}
	for _, s := range splitList(f.workloads) {
		cfg.Workloads = append(cfg.Workloads, lab.SoakWorkload(s))
	}
	if len(cfg.Losses) == 0 || len(cfg.Configs) == 0 || len(cfg.Workloads) == 0 {
		return usagef("--loss, --configs and --workloads need at least one value each")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("lab soak: find own executable to run the servers and clients: %w", err)
	}
	cfg.Endpoint = []string{exe, "lab", "endpoint"}
	stderr := cmd.ErrOrStderr()
	start := time.Now()
	cfg.Progress = func(s string) { fmt.Fprintf(stderr, "%6.1fs %s\n", time.Since(start).Seconds(), s) }
	res, err := lab.RunSoak(cmd.Context(), cfg)
	if res != nil && len(res.Groups) > 0 {
		out := cmd.OutOrStdout()
		if f.json {
			if jerr := writeJSON(out, res); jerr != nil {
				return jerr
			}
		} else if terr := lab.WriteSoakTable(out, res); terr != nil {
			return terr
		}
		if f.chart != "" {
			if cerr := writeSoakChart(f.chart, res); cerr != nil {
				return cerr
			}
			fmt.Fprintf(stderr, "chart written to %s\n", f.chart)
		}
	}
	return err
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func writeSoakChart(path string, r *lab.SoakResult) error {
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("lab soak: chart: %w", err)
	}
	if err := lab.WriteSoakChart(file, r); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}
