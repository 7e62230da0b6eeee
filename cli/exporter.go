package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/exporter"
	"github.com/flatline-dev/flatline/trace"
	"github.com/spf13/cobra"
)

// exporterFlags are the flags of `flatline exporter`.
type exporterFlags struct {
	listen string
	cfg    exporter.Config
	deaths bool
	debug  bool
}

// defaultListen is the exporter's default address. The Prometheus
// exporter port range is fully allocated; this one is not registered.
const defaultListen = ":9977"

func newExporterCmd() *cobra.Command {
	var f exporterFlags
	cmd := &cobra.Command{
		Use:   "exporter",
		Short: "Serve every socket's dead-peer deadline, for every network namespace, as Prometheus metrics",
		Long: `exporter scans the TCP sockets of every network namespace of this host (found
through /proc/PID/ns/net of every process and the names under /run/netns)
every --interval, as flatline inspect does, and serves the last scan at
http://--listen/metrics: sockets by verdict and namespace, a histogram of
worst cases, the processes with the most sockets that would go unnoticed
longer than --timeout, and what it could not see (flatline_uncovered). A
scrape never rescans. With --deaths (the default) the eBPF tracer of
flatline trace counts every connection the kernel ends, by namespace and
cause, in flatline_deaths_total (root, or CAP_BPF and CAP_PERFMON; Linux
5.8 with BTF); where it cannot load, the exporter runs without it and
flatline_deaths_source_up is 0.

As root it sees everything. Without privilege it still runs: namespaces it
may not enter and sockets whose options it may not read are counted in
flatline_uncovered. In a container, give it the host's PID namespace (see
deploy/ for the Kubernetes DaemonSet and the capabilities it needs).`,
		Example: `  flatline exporter
  flatline exporter --listen 127.0.0.1:9977 --interval 30s --timeout 1m --top 20`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("exporter takes no arguments, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.cfg.Validate(); err != nil {
				return usageError{err}
			}
			if f.listen == "" {
				return usagef("--listen is empty: give host:port, such as 127.0.0.1:9977 (or :9977 for every interface)")
			}
			if err := checkProcRoot(f.cfg.ProcRoot); err != nil {
				return err
			}
			return runExporter(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", defaultListen, "serve /metrics on this `ADDR` (host:port)")
	fl.DurationVar(&f.cfg.Interval, "interval", exporter.DefaultInterval, "time between two scans")
	timeoutFlag(fl, &f.cfg.Budget, "longest a dead peer may go unnoticed (verdict ok, sockets over budget)", "budget")
	fl.IntVar(&f.cfg.TopProcesses, "top", exporter.DefaultTopProcesses, "processes with series of their own; the rest are summed into pid=\"other\"")
	fl.StringVar(&f.cfg.ProcRoot, "proc", exporter.DefaultProcRoot, "where the host's /proc is mounted")
	fl.StringVar(&f.cfg.NetNSDir, "netns-dir", exporter.DefaultNetNSDir, `named network namespaces to scan too ("-": none)`)
	fl.BoolVar(&f.deaths, "deaths", true, "count the connections the kernel ends with the eBPF tracer (flatline_deaths_total)")
	fl.BoolVar(&f.debug, "debug", false, "log every scan note")
	return cmd
}

func runExporter(cmd *cobra.Command, f exporterFlags) error {
	level := slog.LevelInfo
	if f.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	f.cfg.Log = log

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return listenErr(f.listen, err)
	}
	defer ln.Close()

	if f.deaths {
		t, err := trace.New(trace.Options{})
		if err != nil {
			log.Warn("no death tracer: flatline_deaths_total will not count", "err", err)
		} else {
			defer t.Close()
			f.cfg.Deaths = traceDeaths{t}
		}
	}
	e, err := exporter.New(f.cfg)
	if err != nil {
		return usageError{err}
	}
	if os.Geteuid() != 0 {
		log.Warn("not root: only this user's namespaces and processes are covered; flatline_uncovered says what is missing")
	}
	log.Info("serving", "url", "http://"+ln.Addr().String()+"/metrics", "interval", f.cfg.Interval, "budget", f.cfg.Budget)

	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- e.Run(ctx) }()
	err = exporter.Serve(ctx, ln, e.Handler(), exporter.HTTPConfig{})
	cancel()
	<-ran
	return err
}

// checkProcRoot refuses a --proc that holds no process: every scan would
// fail.
func checkProcRoot(dir string) error {
	d, err := exporter.Discover(dir, "")
	if errors.Is(err, flatline.ErrNotSupported) {
		return err
	}
	if err != nil || len(d.Namespaces)+d.Unreadable == 0 {
		return usagef("--proc %s: no process found there (%v): give where the host's /proc is mounted", dir, cmp.Or[error](err, errors.New("no PID/ns/net entries")))
	}
	return nil
}

// traceDeaths feeds the exporter from the eBPF tracer.
type traceDeaths struct{ t *trace.Tracer }

func (d traceDeaths) Run(ctx context.Context, record func(exporter.Death)) error {
	for {
		ev, err := d.t.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		record(exporter.Death{Cause: ev.Cause, NetNS: uint64(ev.NetNS)})
	}
}

// Lost is how many deaths the tracer's ring buffer dropped.
func (d traceDeaths) Lost() (uint64, error) { return d.t.Lost() }

// listenErr says what to change about an address the exporter cannot
// listen on.
func listenErr(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("exporter: --listen %s: the address is in use by another program: choose another port", addr)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("exporter: --listen %s: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE): choose a port above 1023", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("exporter: --listen %s: no interface of this host has that address: use one of its addresses, or :PORT for all", addr)
	}
	return usageError{fmt.Errorf("exporter: --listen %s: %w (want host:port, such as :9977 or 127.0.0.1:9977)", addr, err)}
}
