package exporter_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TestIntegrationPrometheus runs `flatline exporter` (this test binary as
// the CLI) over the whole host, a real Prometheus server (the
// distribution's package) scraping it every second, and two processes in a
// network namespace of their own holding loopback connections with known
// keepalive options. Through Prometheus's HTTP API it checks that PromQL
// sees the namespace's sockets with the verdicts their options give, each
// process's worst case within the library's bound, and, after an
// nftables partition of one connection, that the kernel's kill reaches
// the holder (and flatline_deaths_total, when a death source is wired).
func TestIntegrationPrometheus(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and reads other processes' sockets")
	}
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (Debian package prometheus): " + err.Error())
	}
	const budget = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()

	h := startHolders(t)
	nsIno := netnsIno(t, h.pids["parent"])
	ns := fmt.Sprintf("net:[%d]", nsIno)
	t.Logf("holders: parent %d, child %d in %s", h.pids["parent"], h.pids["child"], ns)

	exporterAddr := startExporter(t, budget)
	prom := startPrometheus(t, promBin, exporterAddr)

	// Verdicts in the holders' namespace: the options decide them.
	want := map[string]float64{"ok": 4, "fragile": 2, "slow": 2, "never": 2, "stuck-retransmitting": 0, "unknown": 0}
	var got map[string]float64
	waitFor(t, ctx, "the namespace's sockets by verdict", func() (bool, string) {
		got = prom.byLabel(t, fmt.Sprintf(`flatline_sockets{netns=%q}`, ns), "verdict")
		for v, n := range want {
			if got[v] != n {
				return false, fmt.Sprint(got)
			}
		}
		return true, ""
	})
	t.Logf("flatline_sockets{netns=%q} = %v", ns, got)

	// Worst cases per process: between the probes' chain (the first
	// probe due now) and the library's whole bound with its timer slack.
	host, err := flatline.ReadHost("/")
	if err != nil {
		host = flatline.LinuxDefaults()
	}
	for role, names := range map[string][]string{"parent": {"slow"}, "child": {"ok", "fragile", "victim"}} {
		var lo, hi time.Duration
		for _, n := range names {
			b := idleBound(pairs[n].settings(), host)
			lo = max(lo, b.Worst-pairs[n].settings().Idle)
			hi = max(hi, b.Worst+b.Slack)
		}
		q := fmt.Sprintf(`flatline_process_worst_case_seconds{pid="%d"}`, h.pids[role])
		v := prom.scalar(t, ctx, q)
		if w := time.Duration(v * float64(time.Second)); w < lo || w > hi {
			t.Errorf("%s = %v, want within [%v, %v]", q, w, lo, hi)
		} else {
			t.Logf("%s = %.3f s, within [%v, %v]", q, v, lo, hi)
		}
	}
	overWant := map[string]float64{"parent": 4, "child": 0} // never ×2 + slow ×2
	for role, n := range overWant {
		q := fmt.Sprintf(`flatline_process_sockets_over_budget{pid="%d"}`, h.pids[role])
		if v := prom.scalar(t, ctx, q); v != n {
			t.Errorf("%s = %v, want %v", q, v, n)
		}
	}
	// The histogram holds at least the holders' eight finite worst
	// cases, six of them within the budget's bucket.
	if v := prom.scalar(t, ctx, `flatline_socket_worst_case_seconds_count`); v < 8 {
		t.Errorf("flatline_socket_worst_case_seconds_count = %v, want at least the holders' 8", v)
	}
	le := strconv.FormatFloat(budget.Seconds(), 'f', -1, 64)
	if v := prom.scalar(t, ctx, fmt.Sprintf(`flatline_socket_worst_case_seconds_bucket{le=%q}`, le)); v < 6 {
		t.Errorf("bucket le=%s = %v, want at least the holders' 6 sockets within budget", le, v)
	}
	if v := prom.scalar(t, ctx, `flatline_scan_success`); v != 1 {
		t.Errorf("flatline_scan_success = %v, want 1", v)
	}
	prom.checkRules(t, ctx)
	prom.checkDashboard(t)
	prom.checkDocQueries(t)
	// The parent's sockets over budget put its alert in pending (it
	// fires after 15 minutes); the child's, all within budget, do not.
	waitFor(t, ctx, "the over-budget alert pending for the parent holder", func() (bool, string) {
		got := prom.byLabel(t, `ALERTS{alertname="FlatlineProcessSocketsOverBudget"}`, "pid")
		_, child := got[strconv.Itoa(h.pids["child"])]
		if child {
			t.Fatalf("over-budget alert for the child holder, whose sockets are all within budget")
		}
		return got[strconv.Itoa(h.pids["parent"])] == 1, fmt.Sprint(got)
	})

	// A partition: drop every packet to the victim's server port in the
	// namespace; the client's keepalive (1 s / 1 s / 2) kills it.
	partition(t, h.pids["parent"], h.ports["victim"])
	start := time.Now()
	b := idleBound(pairs["victim"].settings(), host)
	deadline := time.After(b.Worst + b.Slack + 5*time.Second)
	select {
	case line := <-h.lines:
		if !strings.HasPrefix(line, "DIED victim") || !strings.Contains(line, "timed out") {
			t.Fatalf("holder: %q, want the victim's read to fail with ETIMEDOUT", line)
		}
		t.Logf("%s after %v (bound %v + %v slack)", line, time.Since(start).Round(time.Millisecond), b.Worst, b.Slack)
	case <-deadline:
		t.Fatalf("the victim still lives %v after the partition", time.Since(start))
	}
	t.Run("deaths", func(t *testing.T) {
		if up := prom.scalar(t, ctx, `flatline_deaths_source_up`); up != 1 {
			t.Skip("the death tracer did not load in the exporter (see its log: eBPF needs Linux 5.8 with BTF): flatline_deaths_source_up is 0")
		}
		// Nothing else dies in the holders' namespace. Both ends of the
		// victim die by keepalive: every packet to the server's port is
		// dropped, the client's probes and its answers to the server's
		// probes alike.
		q := fmt.Sprintf(`flatline_deaths_total{netns=%q,cause="keepalive"}`, ns)
		waitFor(t, ctx, "the kill in flatline_deaths_total", func() (bool, string) {
			_, vs := prom.query(t, q)
			return len(vs) == 1 && vs[0] == 2, fmt.Sprintf("%s = %v", q, vs)
		})
		t.Logf("%s = 2; by cause in the namespace: %v", q,
			prom.byLabel(t, fmt.Sprintf(`flatline_deaths_total{netns=%q} > 0`, ns), "cause"))
	})
}

// idleBound is the library's bound for an idle socket with s.
func idleBound(s flatline.Settings, h flatline.Host) flatline.Bound {
	for _, b := range s.Bounds(h) {
		if b.State == flatline.StateIdle {
			return b
		}
	}
	panic("no idle bound")
}

func netnsIno(t *testing.T, pid int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// startHolders starts the parent holder in a new network namespace
// (CLONE_NEWNET: the namespace ends with its processes) and waits until
// both holders hold their sockets.
func startHolders(t *testing.T) *holders {
	t.Helper()
	cmd, stdin, stdout := testutil.StartInNewNetNS(t, holderEnv+"=parent")
	h := &holders{cmd: cmd, stdin: stdin, pids: map[string]int{}, ports: map[string]int{}, lines: make(chan string, 16)}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan error, 1)
	go h.scanReady(stdout, ready)
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("holders not ready after 20 s")
	}
	return h
}

// startExporter runs `flatline exporter` on a loopback port the kernel
// picks and returns its address, from the line it logs.
func startExporter(t *testing.T, budget time.Duration) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "exporter",
		"--listen", "127.0.0.1:0", "--interval", "500ms", "--timeout", budget.String(), "--top", "1000")
	cmd.Env = append(os.Environ(), cliEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var logMu sync.Mutex
	var logTail []string // the exporter's last lines of stderr
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("flatline exporter after SIGTERM: %v, want exit 0", err)
			}
		case <-time.After(10 * time.Second):
			// Its goroutines say where it hangs.
			cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
			logMu.Lock()
			t.Errorf("flatline exporter still running 10 s after SIGTERM; its stderr ends:\n%s", strings.Join(logTail, "\n"))
			logMu.Unlock()
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			if logTail = append(logTail, line); len(logTail) > 400 {
				logTail = logTail[1:]
			}
			logMu.Unlock()
			if _, rest, ok := strings.Cut(line, "url=http://"); ok {
				a, _, _ := strings.Cut(rest, "/")
				addr <- a
			}
			if strings.Contains(line, "level=ERROR") {
				t.Logf("exporter: %s", line)
			}
		}
		exited <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		return a
	case err := <-exited:
		t.Fatalf("flatline exporter exited before serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("flatline exporter not serving after 10 s")
	}
	return ""
}

// promServer is a running Prometheus.
type promServer struct{ base string }

// startPrometheus runs Prometheus with its storage in a temporary
// directory, on a loopback port, scraping target every second, and waits
// until it is ready.
func startPrometheus(t *testing.T, bin, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(filepath.Join("..", "deploy", "prometheus", "flatline-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n"+
		"rule_files: [%q]\n"+
		"scrape_configs:\n  - job_name: flatline\n    static_configs:\n      - targets: [%q]\n", rules, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // Prometheus takes the port; a race with another program fails the start, and the test says so
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})
	p := &promServer{base: "http://" + addr}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited: %v (see its log)", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus not ready after 20 s")
		}
	}
}

// query runs an instant PromQL query and returns each series' labels and
// value.
func (p *promServer) query(t *testing.T, q string) ([]map[string]string, []float64) {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s", q, r.Error)
	}
	var labels []map[string]string
	var values []float64
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			t.Fatalf("query %s: value %v: %v", q, s.Value[1], err)
		}
		labels, values = append(labels, s.Metric), append(values, v)
	}
	return labels, values
}

// byLabel returns q's values by one label.
func (p *promServer) byLabel(t *testing.T, q, label string) map[string]float64 {
	t.Helper()
	ls, vs := p.query(t, q)
	out := map[string]float64{}
	for i := range ls {
		out[ls[i][label]] = vs[i]
	}
	return out
}

// scalar waits until q returns exactly one series and returns its value.
func (p *promServer) scalar(t *testing.T, ctx context.Context, q string) float64 {
	t.Helper()
	var v float64
	waitFor(t, ctx, q, func() (bool, string) {
		_, vs := p.query(t, q)
		if len(vs) != 1 {
			return false, fmt.Sprintf("%d series", len(vs))
		}
		v = vs[0]
		return true, ""
	})
	return v
}

// waitFor polls cond every 250 ms until it holds or ctx ends; Prometheus
// sees a change only after a scan and a scrape.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() (bool, string)) {
	t.Helper()
	for {
		ok, last := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not seen before the test's deadline; last: %s", what, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// partition drops every TCP packet to port on the input path of pid's
// network namespace (loopback included), through a netlink socket opened
// in that namespace. The table goes with the namespace.
func partition(t *testing.T, pid, port int) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		t.Skipf("nftables: %v", err)
	}
	tab := c.AddTable(&nftables.Table{Name: fmt.Sprintf("flt-%d-exporter", os.Getpid()), Family: nftables.TableFamilyINet})
	accept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: "in", Table: tab, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	c.AddRule(&nftables.Rule{Table: tab, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, uint16(port))},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}})
	if err := c.Flush(); err != nil {
		t.Skipf("nftables in the holders' namespace: %v", err)
	}
}

// checkRules waits until Prometheus has evaluated every rule of
// deploy/prometheus/flatline-rules.yml against the exporter's series, and
// fails on any rule it reports unhealthy.
func (p *promServer) checkRules(t *testing.T, ctx context.Context) {
	t.Helper()
	waitFor(t, ctx, "the alerting rules evaluated", func() (bool, string) {
		resp, err := http.Get(p.base + "/api/v1/rules")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name, Health, LastError string
						LastEvaluation          time.Time
					}
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range r.Data.Groups {
			for _, rule := range g.Rules {
				n++
				if rule.Health == "err" {
					t.Fatalf("rule %s: %s", rule.Name, rule.LastError)
				}
				if rule.Health != "ok" {
					return false, rule.Name + " not evaluated yet"
				}
			}
		}
		return n > 0, "no rules loaded"
	})
}

// checkDashboard runs every query of the Grafana dashboard, for every
// instance, and fails on any Prometheus rejects.
func (p *promServer) checkDashboard(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "flatline-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	for _, panel := range d.Panels {
		for _, tg := range panel.Targets {
			p.query(t, strings.ReplaceAll(tg.Expr, "$instance", ".*"))
		}
	}
}

// checkDocQueries runs the PromQL examples of docs/exporter.md and fails
// on any Prometheus rejects.
func (p *promServer) checkDocQueries(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "exporter.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "```promql\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok || block == "" {
		t.Fatal("docs/exporter.md: no promql block")
	}
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		q, _, _ := strings.Cut(line, "#")
		p.query(t, strings.TrimSpace(q))
	}
}
