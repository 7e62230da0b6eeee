package exporter

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/flatline-dev/flatline/diag"
	"github.com/prometheus/client_golang/prometheus"
)

// nsResult is one namespace's scan: a report, or why there is none.
type nsResult struct {
	ns     Namespace
	report *diag.Report
	err    error
}

// snapshot is what a scan found, reduced to what the metrics show. It is
// built once per scan and read by every scrape.
type snapshot struct {
	at   time.Time
	took time.Duration
	ok   bool // the last scan completed (false: the numbers are older)

	namespaces []nsRow
	worst      histogram
	procs      []procRow
	// uncovered counts what the scan could not see, by what.
	uncovered map[string]int
}

type nsRow struct {
	ns        Namespace
	scanned   bool
	byVerdict map[diag.Verdict]int
	// falseKills sums the sockets' expected false kills per hour at the
	// loss each has seen (diag.Socket.FalseKillsPerHour, where known).
	falseKills float64
}

type histogram struct {
	count   uint64
	sum     float64
	buckets map[float64]uint64 // cumulative, as Prometheus wants them
}

// procRow is one process's sockets, or a fold of several (pid "other",
// or "none" for sockets no process was found for).
type procRow struct {
	pid, comm string
	sockets   int
	over      int           // sockets that would go unnoticed longer than the budget, or forever
	worst     time.Duration // the longest finite worst case
	hasWorst  bool
}

// The label values of folded process rows.
const (
	pidOther = "other" // processes beyond Config.TopProcesses
	pidNone  = "none"  // sockets with no owning process found
)

// The flatline_uncovered{what} values.
const (
	uncoveredNamespaces = "namespaces"     // namespaces found but not scanned (no privilege to enter)
	uncoveredProcesses  = "processes"      // processes whose network namespace link is unreadable
	uncoveredOwners     = "socket_owners"  // sockets with an inode but no process found holding it
	uncoveredOptions    = "socket_options" // owned sockets whose options could not be read: verdict from inet_diag alone
)

// bucketBounds are flatline_socket_worst_case_seconds's upper bounds, in
// seconds, before the budget is added: from a second to Linux's default
// keepalive (2 h idle + 9 × 75 s ≈ 2.2 h) and beyond.
var bucketBounds = [...]float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800}

// buckets are the histogram's bounds with the budget among them, so that
// le="<budget>" counts exactly the sockets within it.
func buckets(budget time.Duration) []float64 {
	b := append([]float64(nil), bucketBounds[:]...)
	if s := budget.Seconds(); !slices.Contains(b, s) {
		b = append(b, s)
		slices.Sort(b)
	}
	return b
}

// verdicts are the verdicts every namespace reports, zero or not, so that
// alerts and dashboards find their series.
func verdicts() []diag.Verdict { return diag.Verdicts() }

// overBudget reports whether s would go unnoticed longer than budget if
// its peer vanished now. Unknown sockets are not counted.
func overBudget(s *diag.Socket, budget time.Duration) bool {
	return s.Never || (s.Known && s.Worst > budget)
}

// summarize reduces one scan to a snapshot. It is pure.
func summarize(results []nsResult, unreadableProcs int, budget time.Duration, top int) *snapshot {
	s := &snapshot{uncovered: map[string]int{
		uncoveredNamespaces: 0, uncoveredProcesses: unreadableProcs, uncoveredOwners: 0, uncoveredOptions: 0,
	}}
	bounds := buckets(budget)
	counts := make([]uint64, len(bounds))
	procs := make(map[[2]string]*procRow)
	unowned := &procRow{pid: pidNone, comm: pidNone}
	for _, res := range results {
		row := nsRow{ns: res.ns, byVerdict: map[diag.Verdict]int{}}
		if res.report == nil {
			s.uncovered[uncoveredNamespaces]++
			s.namespaces = append(s.namespaces, row)
			continue
		}
		row.scanned = true
		for i := range res.report.Sockets {
			k := &res.report.Sockets[i]
			row.byVerdict[k.Verdict]++
			if k.RiskKnown {
				row.falseKills += k.FalseKillsPerHour
			}
			finite := k.Known && !k.Never
			if finite {
				sec := k.Worst.Seconds()
				s.worst.count++
				s.worst.sum += sec
				if j, _ := slices.BinarySearch(bounds, sec); j < len(bounds) {
					counts[j]++
				}
			}
			p := unowned
			if o, ok := k.Owner(); ok {
				key := [2]string{strconv.Itoa(o.PID), labelValue(o.Comm)}
				if p = procs[key]; p == nil {
					p = &procRow{pid: key[0], comm: key[1]}
					procs[key] = p
				}
			} else if k.Inode != 0 {
				s.uncovered[uncoveredOwners]++
			}
			if len(k.Owners) > 0 && k.Settings == nil && !errors.Is(k.OptionsErr, diag.ErrGone) {
				s.uncovered[uncoveredOptions]++
			}
			p.add(k, budget)
		}
		s.namespaces = append(s.namespaces, row)
	}
	s.worst.buckets = make(map[float64]uint64, len(bounds))
	var cum uint64
	for i, b := range bounds {
		cum += counts[i]
		s.worst.buckets[b] = cum
	}
	s.procs = topProcesses(procs, top)
	if unowned.sockets > 0 {
		s.procs = append(s.procs, *unowned)
	}
	return s
}

func (p *procRow) add(k *diag.Socket, budget time.Duration) {
	p.sockets++
	if overBudget(k, budget) {
		p.over++
	}
	if k.Known && !k.Never && (!p.hasWorst || k.Worst > p.worst) {
		p.worst, p.hasWorst = k.Worst, true
	}
}

func (p *procRow) fold(q procRow) {
	p.sockets += q.sockets
	p.over += q.over
	if q.hasWorst && (!p.hasWorst || q.worst > p.worst) {
		p.worst, p.hasWorst = q.worst, true
	}
}

// topProcesses keeps the top processes, most sockets over budget first
// (then most sockets, then lowest pid), and folds the rest into one row.
func topProcesses(procs map[[2]string]*procRow, top int) []procRow {
	rows := make([]procRow, 0, len(procs))
	for _, p := range procs {
		rows = append(rows, *p)
	}
	slices.SortFunc(rows, func(a, b procRow) int {
		if c := cmp.Compare(b.over, a.over); c != 0 {
			return c
		}
		if c := cmp.Compare(b.sockets, a.sockets); c != 0 {
			return c
		}
		ap, _ := strconv.Atoi(a.pid)
		bp, _ := strconv.Atoi(b.pid)
		if c := cmp.Compare(ap, bp); c != 0 {
			return c
		}
		return cmp.Compare(a.comm, b.comm)
	})
	if len(rows) <= top {
		return rows
	}
	other := procRow{pid: pidOther, comm: pidOther}
	for _, r := range rows[top:] {
		other.fold(r)
	}
	return append(rows[:top:top], other)
}

var (
	descSockets = prometheus.NewDesc("flatline_sockets",
		"TCP sockets by inspect verdict (ok, fragile, at-risk, slow, never, stuck-retransmitting, unknown) and network namespace, in the states ss shows by default.",
		[]string{"netns", "verdict"}, nil)
	descFalseKills = prometheus.NewDesc("flatline_false_kills_expected_per_hour",
		"Live connections the kernel is expected to declare dead in the next hour, per network namespace: the sum over its sockets of the false-kill model's rate at the loss each socket has seen (retransmitted / sent segments; sockets with fewer than 200 sent, or unreadable options, left out).",
		[]string{"netns"}, nil)
	descWorst = prometheus.NewDesc("flatline_socket_worst_case_seconds",
		"Each socket's worst case at the last scan: how long until the kernel reports its peer dead if the network vanished now. Sockets that never notice and unknown ones are left out (see flatline_sockets). A snapshot: the counts go down as well as up; use the buckets as they are, not their rate().",
		nil, nil)
	descBudget = prometheus.NewDesc("flatline_budget_seconds",
		"The budget: the longest a dead peer may go unnoticed (--timeout), the limit of the verdict ok.",
		nil, nil)
	descProcSockets = prometheus.NewDesc("flatline_process_sockets",
		`TCP sockets per process, for the processes with the most sockets over budget; pid="other" sums the rest, pid="none" the sockets no process was found for.`,
		[]string{"pid", "comm"}, nil)
	descProcOver = prometheus.NewDesc("flatline_process_sockets_over_budget",
		`Sockets per process that would go unnoticed longer than the budget (or forever) if their peer vanished now; pid="other" sums the processes beyond the top N.`,
		[]string{"pid", "comm"}, nil)
	descProcWorst = prometheus.NewDesc("flatline_process_worst_case_seconds",
		"The longest finite worst case among a process's sockets (absent when all of them never notice or are unknown).",
		[]string{"pid", "comm"}, nil)
	descNetNS = prometheus.NewDesc("flatline_netns_info",
		"One series per network namespace found: its name under /run/netns if any, its lowest pid and that process's command, and whether it was scanned.",
		[]string{"netns", "name", "pid", "comm", "scanned"}, nil)
	descUncovered = prometheus.NewDesc("flatline_uncovered",
		"What the last scan could not see: namespaces it could not enter, processes whose namespace it could not read, sockets with no process found, owned sockets whose options it could not read (verdict from inet_diag alone).",
		[]string{"what"}, nil)
	descScanDuration = prometheus.NewDesc("flatline_scan_duration_seconds",
		"How long the last completed scan of every namespace took.", nil, nil)
	descScanTime = prometheus.NewDesc("flatline_scan_timestamp_seconds",
		"When the last completed scan ended, Unix time.", nil, nil)
	descDeathsLost = prometheus.NewDesc("flatline_deaths_lost_total",
		"Deaths the death tracer could not report because its reader fell behind (absent when the source cannot tell).", nil, nil)
	descScanSuccess = prometheus.NewDesc("flatline_scan_success",
		"1 when the last scan completed and every one of its series could be served, 0 when it failed (the other series then show an older scan, or none) or some series were left out (flatline_collect_errors_total).", nil, nil)
	descCollectErrors = prometheus.NewDesc("flatline_collect_errors_total",
		"Series left out of a scrape because they could not be made (a label value refused): such a scrape also says flatline_scan_success 0.", nil, nil)
)

// Describe sends the descriptors of the scan's metrics.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSockets, descFalseKills, descWorst, descBudget, descProcSockets, descProcOver,
		descProcWorst, descNetNS, descUncovered, descScanDuration, descScanTime, descScanSuccess, descDeathsLost, descCollectErrors} {
		ch <- d
	}
}

// Collect sends the last scan's metrics; it does not scan. A metric that
// cannot be made (a label value the registry refuses) is left out, counted
// in flatline_collect_errors_total, and turns flatline_scan_success to 0
// for that scrape: a page is never silently shorter.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	b := &metricBuf{}
	b.gauge(descBudget, e.cfg.budget().Seconds())
	if lr, ok := e.cfg.Deaths.(LossReporter); ok {
		if n, err := lr.Lost(); err == nil {
			b.add(prometheus.NewConstMetric(descDeathsLost, prometheus.CounterValue, float64(n)))
		}
	}
	ok := false
	if s := e.snap.Load(); s != nil && !s.at.IsZero() {
		ok = s.ok
		func() {
			defer func() {
				if p := recover(); p != nil {
					b.failed++
					e.log.Error("collect panicked: the page lacks some series", "panic", p)
				}
			}()
			s.collect(b)
		}()
	}
	if b.failed > 0 {
		e.log.Error("series left out of the page", "count", b.failed, "first", b.firstErr)
		ok = false
	}
	n := e.collectErrors.Add(uint64(b.failed))
	b.gauge(descScanSuccess, b2f(ok))
	b.add(prometheus.NewConstMetric(descCollectErrors, prometheus.CounterValue, float64(n)))
	for _, m := range b.metrics {
		ch <- m
	}
}

// metricBuf gathers one scrape's metrics and counts those that could not
// be made.
type metricBuf struct {
	metrics  []prometheus.Metric
	failed   int
	firstErr error
}

func (b *metricBuf) add(m prometheus.Metric, err error) {
	if err != nil {
		if b.failed++; b.firstErr == nil {
			b.firstErr = err
		}
		return
	}
	b.metrics = append(b.metrics, m)
}

func (b *metricBuf) gauge(d *prometheus.Desc, v float64, labels ...string) {
	b.add(prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...))
}

func (s *snapshot) collect(b *metricBuf) {
	b.gauge(descScanDuration, s.took.Seconds())
	b.gauge(descScanTime, float64(s.at.UnixNano())/1e9)
	for _, n := range s.namespaces {
		pid := ""
		if n.ns.PID != 0 {
			pid = strconv.Itoa(n.ns.PID)
		}
		b.gauge(descNetNS, 1, n.ns.ID, labelValue(n.ns.Name), pid, labelValue(n.ns.Comm), strconv.FormatBool(n.scanned))
		if !n.scanned {
			continue
		}
		for _, v := range verdicts() {
			b.gauge(descSockets, float64(n.byVerdict[v]), n.ns.ID, string(v))
		}
		for v, c := range n.byVerdict { // a verdict this exporter does not list yet
			if !slices.Contains(verdicts(), v) {
				b.gauge(descSockets, float64(c), n.ns.ID, labelValue(string(v)))
			}
		}
		b.gauge(descFalseKills, n.falseKills, n.ns.ID)
	}
	b.add(prometheus.NewConstHistogram(descWorst, s.worst.count, s.worst.sum, s.worst.buckets))
	for _, p := range s.procs {
		b.gauge(descProcSockets, float64(p.sockets), p.pid, p.comm)
		b.gauge(descProcOver, float64(p.over), p.pid, p.comm)
		if p.hasWorst {
			b.gauge(descProcWorst, p.worst.Seconds(), p.pid, p.comm)
		}
	}
	for what, n := range s.uncovered {
		b.gauge(descUncovered, float64(n), what)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
