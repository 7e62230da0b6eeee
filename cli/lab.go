package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flatline-dev/flatline/internal/vm"
	"github.com/flatline-dev/flatline/lab"
	"github.com/spf13/cobra"
)

// labFlags are the flags of `flatline lab`.
type labFlags struct {
	timeout  time.Duration
	cap      time.Duration
	only     string
	quick    bool
	json     bool
	chart    string
	parallel int
	kernel   string // --kernel: run in a VM booted from this version or image
	modules  string // --modules: the image's lib/modules/RELEASE
	cacheDir string // --cache-dir: fetched kernels
}

func newLabCmd() *cobra.Command {
	var f labFlags
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Measure on real kernel TCP how long dead peers go unnoticed (needs root)",
		Long: `lab builds client <-> router <-> server network namespaces (nothing touches
the host's own network), opens a connection per cell, cuts the path or freezes
the peer at a known instant, and measures how long the application waits for
its first error: for every workload (idle, sending, receiving, replication,
zero-window, connect), fault (blackhole, link-down, one-way-out, one-way-in,
peer-frozen, peer-paused, peer-reboot, reset, blip) and configuration (Go's
default dialer, keepalive only, keepalive plus TCP_USER_TIMEOUT, flatline,
flatline+heartbeat: flatline plus package liveness). Each measurement is
compared with what that configuration's settings promise.

Cells run in parallel, each in namespaces of its own named flt-<pid>-...; they
are removed on exit, on error and on Ctrl-C, and stale ones of dead runs are
swept at start. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN), veth and nf_tables.`,
		Example: `  sudo flatline lab
  sudo flatline lab --quick
  sudo flatline lab --only 'sending/*' --json
  sudo flatline lab --chart lab.svg
  sudo flatline lab --kernel 5.10 --quick
  sudo flatline lab --kernel /boot/vmlinuz-6.8.0-45-generic --modules /lib/modules/6.8.0-45-generic`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLab(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.timeout, "timeout", 3*time.Second, "T: the longest a dead peer may go unnoticed, for flatline and the scaled configurations")
	fl.DurationVar(&f.cap, "cap", 0, "how long each cell waits for an error after its fault (0: 10 x --timeout)")
	fl.StringVar(&f.only, "only", "", "run only the cells whose workload/fault/config matches this pattern (path.Match, or a substring)")
	fl.BoolVar(&f.quick, "quick", false, "run the representative subset that shows the lesson (about 30 s)")
	fl.BoolVar(&f.json, "json", false, "print JSON for programs instead of the table")
	fl.StringVar(&f.chart, "chart", "", "also write an SVG chart of detection time per cell to this file (FILE.svg)")
	fl.IntVar(&f.parallel, "parallel", 0, "cells measured at once (0: 64)")
	fl.MarkHidden("parallel")
	fl.StringVar(&f.kernel, "kernel", "", "run the lab in a qemu VM booted from this kernel: a version (5.10, 6.1, 6.12: Debian 11, 12, 13, fetched with apt) or a kernel image path")
	fl.StringVar(&f.modules, "modules", "", "with --kernel PATH: the kernel's modules directory (lib/modules/RELEASE)")
	fl.StringVar(&f.cacheDir, "cache-dir", vm.DefaultCacheDir, "where --kernel keeps fetched kernels")
	cmd.AddCommand(newLabEndpointCmd(), newLabStormCmd(), newLabSoakCmd())
	return cmd
}

// newLabEndpointCmd is the server endpoint the lab re-executes in the
// server namespace: hidden, not for people.
func newLabEndpointCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "endpoint",
		Short:  "Serve one lab cell's server side (started by flatline lab)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lab.RunEndpoint(cmd.Context(), cmd.OutOrStdout())
		},
	}
}

func runLab(cmd *cobra.Command, f labFlags) error {
	if err := checkChartName(f.chart); err != nil {
		return err
	}
	if f.timeout <= 0 {
		return usagef("--timeout must be positive, got %v", f.timeout)
	}
	cells, err := lab.Matrix(f.quick, f.only)
	if err != nil {
		return usageError{err}
	}
	if len(cells) == 0 {
		return usagef("--only %q matches no cell (cells are named workload/fault/config, e.g. idle/blackhole/flatline)", f.only)
	}
	if f.kernel != "" {
		return runLabInKernel(cmd, f)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("lab: find own executable to run the server endpoint: %w", err)
	}
	stderr := cmd.ErrOrStderr()
	opts := lab.Options{
		Timeout:  f.timeout,
		Cells:    cells,
		Cap:      f.cap,
		Parallel: f.parallel,
		Endpoint: []string{exe, "lab", "endpoint"},
		Enforce:  attachEnforce,
	}
	if isTerminal(stderr) {
		start := time.Now()
		opts.Progress = func(done, total int, _ lab.CellResult) {
			progressBar(stderr, done, total, time.Since(start))
		}
		capTime := f.cap
		if capTime == 0 {
			capTime = 10 * f.timeout
		}
		fmt.Fprintf(stderr, "flatline lab: %d cells in parallel, up to %v each; Ctrl-C stops and cleans up\n", len(cells), capTime+time.Second)
		progressBar(stderr, 0, len(cells), 0)
	}
	res, err := lab.Run(cmd.Context(), opts)
	if opts.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if res == nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.json {
		if jerr := lab.WriteJSON(out, res); jerr != nil {
			return jerr
		}
	} else if terr := lab.WriteTable(out, res); terr != nil {
		return terr
	}
	if f.chart != "" {
		if cerr := writeChartFile(f.chart, res); cerr != nil {
			return cerr
		}
		fmt.Fprintf(stderr, "chart written to %s\n", f.chart)
	}
	return err
}

// checkChartName refuses a --chart that does not name an .svg file, before
// any work: charts are SVG (drawn by internal/svgchart), and a name like
// lab.png would hold SVG text under a PNG's name. "" is no chart.
func checkChartName(name string) error {
	ext := strings.ToLower(filepath.Ext(name))
	switch {
	case name == "" || ext == ".svg":
		return nil
	case ext == ".png":
		return usagef("--chart %s: charts are SVG now; name the file %s.svg", name, strings.TrimSuffix(name, filepath.Ext(name)))
	}
	return usagef("--chart %s: charts are SVG; name the file FILE.svg", name)
}

func writeChartFile(path string, res *lab.Result) error {
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("lab: chart: %w", err)
	}
	if err := lab.WriteChart(file, res); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// progressBar redraws one line on a terminal: [#####-----] done/total.
func progressBar(w io.Writer, done, total int, elapsed time.Duration) {
	const width = 30
	n := 0
	if total > 0 {
		n = done * width / total
	}
	fmt.Fprintf(w, "\r[%s%s] %d/%d cells  %v ", strings.Repeat("#", n), strings.Repeat("-", width-n), done, total, elapsed.Round(time.Second))
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
