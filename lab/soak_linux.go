package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
)

// soakBasePort is the first group's server port; group i listens at
// soakBasePort + 2i (data) and the port after it (heartbeat).
const soakBasePort = 21000

// soakDialBudget is how long a group may take to open its connections
// through the lossy path before its holding time starts.
const soakDialBudget = 3 * time.Minute

// soakGroupRun is one group while it runs.
type soakGroupRun struct {
	SoakGroup
	loss   Loss
	port   uint16
	server *soakProc
	client *soakProc
	killed int // so far, from the client's "dead" lines
	report *soakReport
}

// RunSoak runs a soak in a fresh lab topology (root, network namespaces):
// every group's server and client in processes of their own (cfg.Endpoint
// re-executed in the server and the client namespace), the router dropping
// each group's packets at random at its loss rate (nftables, matched on the
// group's ports), all groups at once for cfg.Duration. It removes the
// processes and the topology afterwards, also on error and cancellation,
// and returns the groups that finished with the error.
func RunSoak(ctx context.Context, cfg SoakConfig) (*SoakResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	topo, err := New(ctx)
	if err != nil {
		return nil, err
	}
	defer topo.Close()
	// The model's host: the client namespace's sysctls and the HZ.
	host, err := clientHost(topo)
	if err != nil {
		return nil, err
	}
	res := &SoakResult{Conns: cfg.Conns, TimeoutS: cfg.Timeout.Seconds(), DurationS: cfg.Duration.Seconds(), Model: soakModelName}
	groups, err := soakGroups(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, g := range groups {
			g.client.stop()
			g.server.stop()
		}
	}()
	for _, g := range groups {
		if err := topo.RandomLossOnPorts(g.loss, g.port, g.port+1); err != nil {
			return nil, err
		}
	}
	progress := func(format string, a ...any) {
		if cfg.Progress != nil {
			cfg.Progress(fmt.Sprintf(format, a...))
		}
	}
	progress("soak: %d groups of %d connections, T = %v, held %v; servers starting", len(groups), cfg.Conns, cfg.Timeout, cfg.Duration)
	for _, g := range groups {
		spec := soakSpec{role: "server", config: g.Config, timeout: cfg.Timeout, port: g.port}
		if g.server, err = startSoakProc(ctx, topo.Server, cfg.Endpoint, spec); err != nil {
			return nil, fmt.Errorf("soak: %s: %w", g.Name(), err)
		}
		if err := g.server.expect(ctx, "ready", 30*time.Second); err != nil {
			return nil, fmt.Errorf("soak: %s: server: %w", g.Name(), err)
		}
	}
	for _, g := range groups {
		spec := soakSpec{role: "client", config: g.Config, workload: g.Workload, timeout: cfg.Timeout,
			addr: topo.ServerAddr, port: g.port, conns: cfg.Conns, duration: cfg.Duration}
		if g.client, err = startSoakProc(ctx, topo.Client, cfg.Endpoint, spec); err != nil {
			return nil, fmt.Errorf("soak: %s: %w", g.Name(), err)
		}
	}
	backlog0, berr := softnetDrops()
	err = watchSoakGroups(ctx, cfg, groups, progress)
	if b, err := softnetDrops(); err == nil && berr == nil {
		res.BacklogDrops = b - backlog0
	}
	res.Backlog = netdevMaxBacklog()
	drops, derr := topo.LossDrops()
	for _, g := range groups {
		if g.report == nil {
			continue // cut short: no count to stand beside the model
		}
		g.RouterDrops = drops[g.port]
		g.finish(cfg, host)
		res.Groups = append(res.Groups, g.SoakGroup)
	}
	return res, errors.Join(err, derr)
}

// soakGroups lays out the groups: loss rates outermost, then
// configurations, then workloads.
func soakGroups(cfg SoakConfig) ([]*soakGroupRun, error) {
	var groups []*soakGroupRun
	for _, l := range cfg.Losses {
		for _, c := range cfg.Configs {
			s, err := c.Settings(cfg.Timeout)
			if err != nil {
				return nil, err
			}
			for _, w := range cfg.Workloads {
				g := &soakGroupRun{loss: l, port: soakBasePort + uint16(2*len(groups))}
				g.Config, g.Workload, g.LossPct = c, w, l.Fraction()*100
				g.Socket = s
				g.Causes = map[string]int{}
				groups = append(groups, g)
			}
		}
	}
	return groups, nil
}

// watchSoakGroups reads every client's lines until each has printed its
// result, reporting progress every tenth of the duration (at most every
// 30 s).
func watchSoakGroups(ctx context.Context, cfg SoakConfig, groups []*soakGroupRun, progress func(string, ...any)) error {
	type line struct {
		g    *soakGroupRun
		text string
		err  error
	}
	lines := make(chan line)
	done := make(chan struct{})
	defer close(done)
	for _, g := range groups {
		go func() {
			for {
				s, err := g.client.next()
				select {
				case lines <- line{g, s, err}:
				case <-done:
					return
				}
				if err != nil || strings.HasPrefix(s, "result ") {
					return
				}
			}
		}()
	}
	deadline := time.NewTimer(soakDialBudget + cfg.Duration + 30*time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(min(max(cfg.Duration/10, 5*time.Second), 30*time.Second))
	defer tick.Stop()
	start := time.Now()
	open, pending := 0, len(groups)
	for pending > 0 {
		select {
		case l := <-lines:
			if l.err != nil {
				return fmt.Errorf("soak: %s: client ended before its result: %w", l.g.Name(), l.err)
			}
			switch f := strings.Fields(l.text); {
			case len(f) == 3 && f[0] == "open":
				open++
				progress("soak: %s: %s of %d connections open (%s failed to dial)", l.g.Name(), f[1], cfg.Conns, f[2])
			case len(f) >= 2 && f[0] == "dead":
				l.g.killed++
			case len(f) >= 2 && f[0] == "result":
				var r soakReport
				if err := json.Unmarshal([]byte(strings.TrimPrefix(l.text, "result ")), &r); err != nil {
					return fmt.Errorf("soak: %s: bad result: %w", l.g.Name(), err)
				}
				l.g.report = &r
				pending--
			}
		case <-tick.C:
			killed := 0
			for _, g := range groups {
				killed += g.killed
			}
			progress("soak: %v elapsed, %d of %d groups open, %d connections killed so far", time.Since(start).Round(time.Second), open, len(groups), killed)
		case <-deadline.C:
			return fmt.Errorf("soak: %d groups gave no result within %v", pending, soakDialBudget+cfg.Duration+30*time.Second)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// finish fills the group's measurement from its client's report, and the
// model's prediction.
func (g *soakGroupRun) finish(cfg SoakConfig, host flatline.Host) {
	r := g.report
	if r == nil {
		return
	}
	g.Opened, g.DialFailed, g.HeldS = r.Opened, r.DialFailed, r.HeldS
	g.Retransmits, g.SegsOut = r.Retransmits, r.SegsOut
	g.Killed = len(r.Kills)
	for _, k := range r.Kills {
		g.Causes[k.Cause]++
		g.KillTimes = append(g.KillTimes, k.AtS)
	}
	s, err := g.Config.Settings(cfg.Timeout)
	if err != nil {
		return
	}
	perHour, err := soakPerHour(g.Config, g.Workload, s, g.loss, cfg.Timeout, host)
	if err != nil {
		return
	}
	// Each connection dies at most once: 1 − e^(−rate·held) of them.
	mu := float64(g.Opened) * -math.Expm1(-perHour*g.HeldS/3600)
	rng := poissonRange(mu, g.Opened)
	g.PerConnHour, g.Predicted, g.PredictedRange = &perHour, &mu, &rng
}

// soakProc is one of a soak's processes: the endpoint program run in a
// namespace with a soak spec, its stdout read line by line.
type soakProc struct {
	cmd  *exec.Cmd
	out  *bufio.Reader
	once sync.Once
}

func startSoakProc(ctx context.Context, ns *Namespace, argv []string, spec soakSpec) (*soakProc, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), EndpointEnv+"="+spec.String())
	cmd.Stderr = os.Stderr
	// Killed with the soak, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// Forked from a thread inside the namespace: the child is born there.
	if err := ns.Do(cmd.Start); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", argv[0], spec.role, err)
	}
	return &soakProc{cmd: cmd, out: bufio.NewReader(out)}, nil
}

// next returns the process's next line, without its newline.
func (p *soakProc) next() (string, error) {
	s, err := p.out.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimSuffix(s, "\n"), nil
}

// expect waits for the line want.
func (p *soakProc) expect(ctx context.Context, want string, within time.Duration) error {
	got := make(chan error, 1)
	go func() {
		s, err := p.next()
		if err == nil && s != want {
			err = fmt.Errorf("said %q, want %q", s, want)
		}
		got <- err
	}()
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case err := <-got:
		return err
	case <-t.C:
		return fmt.Errorf("no %q within %v", want, within)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop kills the process and reaps it; nil-safe and idempotent.
func (p *soakProc) stop() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
}
