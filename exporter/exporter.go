package exporter

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/diag"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults of the zero Config.
const (
	DefaultInterval     = 15 * time.Second
	DefaultTopProcesses = 10
	DefaultProcRoot     = "/proc"
	DefaultNetNSDir     = kernel.NetNSDir
	// MinInterval is the shortest Interval Validate accepts: one scan of
	// 20,000 sockets takes about a tenth of a second of CPU.
	MinInterval = 100 * time.Millisecond
)

// Config says what the exporter scans and how often. The zero value scans
// every network namespace of the host every 15 s against a 30 s budget.
type Config struct {
	// Interval is the time between two scans; zero means DefaultInterval.
	// A scrape reads the last scan's results and never scans.
	Interval time.Duration
	// Budget is the longest a dead peer may go unnoticed: the limit of
	// the verdict ok (diag.Options.Max) and of the per-process count of
	// sockets over budget. Zero means flatline.DefaultTimeout (30 s).
	Budget time.Duration
	// TopProcesses is how many processes get series of their own in the
	// flatline_process_* metrics, those with the most sockets over budget
	// first; the others are summed into pid="other". Zero means
	// DefaultTopProcesses.
	TopProcesses int
	// ProcRoot is where the host's /proc is mounted; empty means
	// DefaultProcRoot. Namespaces are discovered there; diag reads the
	// sockets' owners from /proc itself, so run with the host's PID
	// namespace (hostPID in Kubernetes).
	ProcRoot string
	// NetNSDir holds named network namespaces (ip netns); empty means
	// DefaultNetNSDir, "-" means none.
	NetNSDir string
	// Deaths, when set, feeds flatline_deaths_total; nil leaves the
	// counters at zero and flatline_deaths_source_up at 0.
	Deaths DeathSource
	// Log receives scan failures and notes; nil discards them.
	Log *slog.Logger
}

// Validate explains the first field that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Interval < 0 || (c.Interval > 0 && c.Interval < MinInterval):
		return fmt.Errorf("exporter: interval %v: want at least %v (or zero for %v)", c.Interval, MinInterval, DefaultInterval)
	case c.Budget < 0:
		return fmt.Errorf("exporter: budget %v: want a positive duration (or zero for %v)", c.Budget, flatline.DefaultTimeout)
	case c.TopProcesses < 0:
		return fmt.Errorf("exporter: top processes %d: want a positive count (or zero for %d)", c.TopProcesses, DefaultTopProcesses)
	}
	return nil
}

func (c Config) interval() time.Duration { return cmpOr(c.Interval, DefaultInterval) }
func (c Config) budget() time.Duration   { return cmpOr(c.Budget, flatline.DefaultTimeout) }
func (c Config) top() int                { return cmpOr(c.TopProcesses, DefaultTopProcesses) }
func (c Config) procRoot() string        { return cmpOr(c.ProcRoot, DefaultProcRoot) }
func (c Config) netnsDir() string {
	switch c.NetNSDir {
	case "":
		return DefaultNetNSDir
	case "-":
		return ""
	}
	return c.NetNSDir
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Death is one connection the kernel ended.
type Death struct {
	Cause flatline.Cause
	// NetNS is the inode of the connection's network namespace (as in
	// /proc/PID/ns/net); 0 when unknown.
	NetNS uint64
}

// DeathSource delivers connections the kernel ended (a tracer such as
// package trace). Run calls record once per connection, from any
// goroutine, until ctx is done or the source fails; it returns why it
// stopped (nil or ctx.Err() when ctx ended it).
type DeathSource interface {
	Run(ctx context.Context, record func(Death)) error
}

// LossReporter is a DeathSource that may drop deaths when its reader falls
// behind (a ring buffer that fills). Lost returns how many so far; the
// exporter serves it as flatline_deaths_lost_total.
type LossReporter interface {
	Lost() (uint64, error)
}

// DeathSourceFunc adapts a function to DeathSource.
type DeathSourceFunc func(ctx context.Context, record func(Death)) error

// Run calls f.
func (f DeathSourceFunc) Run(ctx context.Context, record func(Death)) error {
	return f(ctx, record)
}

// Exporter scans the host's sockets on an interval and serves the last
// scan as Prometheus metrics. Create it with New, start Run, serve
// Handler.
type Exporter struct {
	cfg  Config
	log  *slog.Logger
	reg  *prometheus.Registry
	snap atomic.Pointer[snapshot]
	ran  atomic.Bool
	// collectErrors counts series Collect could not make.
	collectErrors atomic.Uint64
	mu            sync.Mutex // one Refresh at a time; guards sockets
	// sockets is how many sockets each namespace (by inode) had at the
	// last scan: those that had none are first checked with a bare dump.
	sockets map[uint64]int
	// unscanned holds the namespaces (by inode) whose last scan failed:
	// a failure is logged at Warn when it starts, at Debug while it
	// lasts, so that a namespace the exporter may not enter does not log
	// on every scan.
	unscanned map[uint64]bool

	// seen is, for each netns label of flatline_deaths_total, when it
	// was last found by a scan or got a death, and which namespace holds
	// that inode: series of namespaces gone longer than evictAfter are
	// deleted, so that pods that come and go do not grow the counters
	// without bound, and those of a namespace whose inode another one
	// now has are deleted when a scan finds the new one.
	seenMu sync.Mutex
	seen   map[string]nsSeen

	deaths     *prometheus.CounterVec
	deathsUp   prometheus.Gauge
	scans      prometheus.Counter
	scanErrors *prometheus.CounterVec
	scrape     *prometheus.HistogramVec
}

// New checks c and returns an exporter with no scan yet: until the first
// Refresh, scrapes see flatline_scan_success 0 and no socket series.
func New(c Config) (*Exporter, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	e := &Exporter{
		cfg: c,
		log: c.Log,
		reg: prometheus.NewRegistry(),
		deaths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flatline_deaths_total",
			Help: "Connections the kernel ended, by cause (keepalive, unacked-data, closed-window, reset, ...) and network namespace, from the death tracer. Series of a namespace start at 0 when a scan finds it, restart at 0 when a scan finds another namespace with its inode (Linux reuses the inodes of freed namespaces; told apart by SO_NETNS_COOKIE), and go some minutes after it is gone.",
		}, []string{"netns", "cause"}),
		deathsUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flatline_deaths_source_up",
			Help: "1 while the death tracer feeding flatline_deaths_total runs; 0 when there is none or it failed (see the exporter's log).",
		}),
		scans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flatline_scans_total",
			Help: "Scans of the host's sockets started.",
		}),
		scanErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flatline_scan_errors_total",
			Help: "Scan failures by stage: discover (the whole scan failed), namespace (one namespace could not be scanned), deaths (the death tracer stopped), panic.",
		}, []string{"stage"}),
		scrape: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flatline_scrape_duration_seconds",
			Help:    "Time to serve one /metrics request (from the cached scan).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, nil),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.seen = make(map[string]nsSeen)
	for _, s := range []string{"discover", "namespace", "deaths", "panic"} {
		e.scanErrors.WithLabelValues(s)
	}
	e.reg.MustRegister(e, e.deaths, e.deathsUp, e.scans, e.scanErrors, e.scrape,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return e, nil
}

// kernelCauses are the causes a kernel-ended connection can have: their
// counters exist at zero for every namespace a scan finds, so that
// rate() and alerts see the first death.
func kernelCauses() []flatline.Cause {
	return []flatline.Cause{flatline.CauseKeepalive, flatline.CauseUnacked, flatline.CauseClosedWindow,
		flatline.CauseKernelTimeout, flatline.CauseReset, flatline.CauseUnreachable, flatline.CauseConnectTimeout}
}

// Registry is the exporter's registry: its own collector, the death
// counter, the scan and scrape metrics, and Go's and the process's.
func (e *Exporter) Registry() *prometheus.Registry { return e.reg }

// Handler serves /metrics from the last scan and a short page at /.
func (e *Exporter) Handler() http.Handler {
	errLog := slog.NewLogLogger(e.log.Handler(), slog.LevelError)
	metrics := promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{
		ErrorLog:            errLog,
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            e.reg, // promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 8,
		Timeout:             30 * time.Second,
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.InstrumentHandlerDuration(e.scrape, metrics))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<html><head><title>flatline exporter</title></head><body>
<h1>flatline exporter</h1><p>Every TCP socket's dead-peer deadline, for every network namespace of this host: <a href="/metrics">/metrics</a>.</p>
</body></html>
`)
	})
	return mux
}

// Run scans now and then every Interval, and runs the death source, until
// ctx is done; it then returns nil. A failed scan is logged and counted in
// flatline_scan_errors_total and the last good scan stays served. Run may
// be called once.
func (e *Exporter) Run(ctx context.Context) error {
	if !e.ran.CompareAndSwap(false, true) {
		return errors.New("exporter: Run called twice")
	}
	var wg sync.WaitGroup
	if e.cfg.Deaths != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.runDeaths(ctx)
		}()
	}
	defer wg.Wait()
	tick := time.NewTicker(e.cfg.interval())
	defer tick.Stop()
	for {
		if err := e.Refresh(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("scan failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (e *Exporter) runDeaths(ctx context.Context) {
	e.deathsUp.Set(1)
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				e.scanErrors.WithLabelValues("panic").Inc()
				err = fmt.Errorf("death source panicked: %v\n%s", p, debug.Stack())
			}
		}()
		return e.cfg.Deaths.Run(ctx, e.RecordDeath)
	}()
	e.deathsUp.Set(0)
	if ctx.Err() == nil {
		e.scanErrors.WithLabelValues("deaths").Inc()
		e.log.Error("death source stopped: flatline_deaths_total no longer counts", "err", err)
	}
}

// RecordDeath counts one connection the kernel ended in
// flatline_deaths_total. Sources call it through DeathSource.Run; it is
// safe for concurrent use.
func (e *Exporter) RecordDeath(d Death) {
	id := ""
	if d.NetNS != 0 {
		id = nsID(d.NetNS)
	}
	e.seenMu.Lock()
	s := e.seen[id]
	s.at = time.Now()
	e.seen[id] = s
	e.seenMu.Unlock()
	e.deaths.WithLabelValues(id, d.Cause.String()).Inc()
}

// evictAfter is how long the death counters of a namespace stay after
// it was last seen: long enough for Prometheus to scrape the deaths that
// came with its end.
func (c Config) evictAfter() time.Duration { return max(5*time.Minute, 10*c.interval()) }

// nsSeen is what the exporter knows of the namespace behind a netns label.
type nsSeen struct {
	at     time.Time // last found by a scan, or last death
	cookie uint64    // its SO_NETNS_COOKIE when read, else 0
	gone   bool      // the last scan did not find it
}

// sameNamespace reports whether a namespace found now with cookie is the
// one prev described. An inode is reused once its namespace is freed, so
// a different cookie means another namespace; without cookies (before
// Linux 5.14, or a namespace the exporter cannot enter), a namespace that
// a scan had found gone and that is found again is taken for a new one.
func (prev nsSeen) sameNamespace(cookie uint64) bool {
	if prev.cookie != 0 && cookie != 0 {
		return prev.cookie == cookie
	}
	return !prev.gone
}

// trackNamespaces creates the zero death counters of every namespace
// found, restarts from zero those of a namespace that now has the inode
// of one gone, and deletes those of namespaces gone longer than
// evictAfter.
func (e *Exporter) trackNamespaces(found []Namespace, now time.Time) {
	e.seenMu.Lock()
	defer e.seenMu.Unlock()
	here := make(map[string]bool, len(found))
	for _, ns := range found {
		here[ns.ID] = true
		prev, ok := e.seen[ns.ID]
		if ok && !prev.sameNamespace(ns.Cookie) {
			e.deaths.DeletePartialMatch(prometheus.Labels{"netns": ns.ID})
			e.log.Info("network namespace inode reused: its death counters restart at zero", "netns", ns.ID)
			prev = nsSeen{}
		}
		e.seen[ns.ID] = nsSeen{at: now, cookie: cmpOr(ns.Cookie, prev.cookie)}
		for _, c := range kernelCauses() {
			e.deaths.WithLabelValues(ns.ID, c.String())
		}
	}
	for id, s := range e.seen {
		switch {
		case here[id]:
		case now.Sub(s.at) > e.cfg.evictAfter():
			e.deaths.DeletePartialMatch(prometheus.Labels{"netns": id})
			delete(e.seen, id)
		default:
			s.gone = true
			e.seen[id] = s
		}
	}
}

// Refresh discovers the host's network namespaces, scans them
// (scanNamespaces: one pass of diag.ScanNamespaces) and replaces the
// served results. Namespaces that vanish
// during the scan are left out; namespaces that cannot be scanned are
// logged and counted (flatline_uncovered{what="namespaces"}). It fails,
// keeping the previous results, only when discovery itself fails or ctx
// ends. A panic in a scan is recovered and returned as an error.
func (e *Exporter) Refresh(ctx context.Context) (err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scans.Inc()
	defer func() {
		if p := recover(); p != nil {
			e.scanErrors.WithLabelValues("panic").Inc()
			err = fmt.Errorf("exporter: scan panicked: %v\n%s", p, debug.Stack())
		}
	}()
	start := time.Now()
	disc, err := Discover(e.cfg.procRoot(), e.cfg.netnsDir())
	if err != nil {
		e.scanErrors.WithLabelValues("discover").Inc()
		e.markFailed()
		return err
	}
	fillCookies(disc.Namespaces)
	results := make([]nsResult, 0, len(disc.Namespaces))
	seen := make(map[uint64]int, len(disc.Namespaces))
	unscanned := make(map[uint64]bool)
	scanned := e.scanNamespaces(ctx, disc.Namespaces)
	for i, ns := range disc.Namespaces {
		r, err := scanned[i].report, scanned[i].err
		if r != nil {
			seen[ns.Inode] = len(r.Sockets)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // every process in it exited: gone, not uncovered
		case err != nil:
			e.scanErrors.WithLabelValues("namespace").Inc()
			level := slog.LevelWarn
			if e.unscanned[ns.Inode] {
				level = slog.LevelDebug // said when it started
			}
			unscanned[ns.Inode] = true
			e.log.Log(ctx, level, "namespace not scanned (said once while it lasts; flatline_uncovered counts it)",
				"netns", ns.ID, "pid", ns.PID, "comm", labelValue(ns.Comm), "err", err)
		default:
			for _, n := range r.Notes {
				e.log.Debug("scan note", "netns", ns.ID, "note", n)
			}
		}
		results = append(results, nsResult{ns: ns, report: r, err: err})
	}
	e.sockets, e.unscanned = seen, unscanned
	e.trackNamespaces(disc.Namespaces, time.Now())
	s := summarize(results, disc.Unreadable, e.cfg.budget(), e.cfg.top())
	s.at, s.took, s.ok = time.Now(), time.Since(start), true
	e.snap.Store(s)
	return nil
}

// markFailed keeps the last results but says the last scan failed.
func (e *Exporter) markFailed() {
	old := e.snap.Load()
	s := &snapshot{}
	if old != nil {
		c := *old
		s = &c
	}
	s.ok = false
	e.snap.Store(s)
}

// scanNamespaces scans every namespace of nss. A namespace that had no
// socket at the last scan, or is new, is first dumped alone (no owners, no
// options: no BPF program to load, no descriptors to walk), and scanned in
// full only if it has sockets now: on a node, many namespaces hold none in
// the states that matter. The full scans are one pass
// (diag.ScanNamespaces): the BPF iterators loaded once, the processes'
// descriptors walked once for all of them, and each namespace's sockets
// walked once (no inet_diag dump where the iterator loads). The results
// are in nss's order (report nil with err set for a namespace not
// scanned).
func (e *Exporter) scanNamespaces(ctx context.Context, nss []Namespace) []nsResult {
	out := make([]nsResult, len(nss))
	o := diag.Options{Max: e.cfg.budget()}
	var full []int
	var paths []string
	for i, ns := range nss {
		out[i].ns = ns
		if err := ctx.Err(); err != nil {
			out[i].err = err
			continue
		}
		if n, ok := e.sockets[ns.Inode]; !ok || n == 0 {
			bare := o
			bare.NoOwners, bare.NoOptions = true, true
			r, err := scanPaths(ctx, ns, bare)
			if err != nil || len(r.Sockets) == 0 {
				out[i].report, out[i].err = r, err
				continue
			}
		}
		if len(ns.Paths) == 0 {
			out[i].report, out[i].err = scanPaths(ctx, ns, o)
			continue
		}
		full, paths = append(full, i), append(paths, ns.Paths[0])
	}
	if len(full) == 0 {
		return out
	}
	reports, errs := diag.ScanNamespaces(ctx, o, paths)
	for k, i := range full {
		out[i].report, out[i].err = reports[k], errs[k]
		if errors.Is(errs[k], fs.ErrNotExist) && len(nss[i].Paths) > 1 {
			// Its first path went with the process; another may still open.
			out[i].report, out[i].err = scanPaths(ctx, nss[i], o)
		}
	}
	return out
}

// scanPaths scans ns with o through the first of its paths that still
// opens.
func scanPaths(ctx context.Context, ns Namespace, o diag.Options) (*diag.Report, error) {
	var err error
	for _, p := range ns.Paths {
		var r *diag.Report
		o.NetNS = p
		r, err = diag.Scan(ctx, o)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return r, err
		}
	}
	if err == nil {
		err = fmt.Errorf("exporter: network namespace %s: no path to open it: %w", ns.ID, fs.ErrNotExist)
	}
	return nil, err
}
