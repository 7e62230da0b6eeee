package enforce_test

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/cgroup2"
	"github.com/flatline-dev/flatline/internal/topology"
)

// needRoot skips unless the test can create cgroups and load eBPF.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups and load eBPF programs")
	}
	if _, err := cgroup2.Mount(); err != nil {
		t.Skipf("no cgroup2 mount: %v", err)
	}
}

// newGroup makes a cgroup removed when the test ends.
func newGroup(t *testing.T, name string) *cgroup2.Group {
	t.Helper()
	cgroup2.Sweep()
	g, err := cgroup2.New(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
	})
	return g
}

// attachT attaches and detaches when the test ends; it skips when the
// kernel lacks a feature.
func attachT(t *testing.T, g *cgroup2.Group, o enforce.Options) *enforce.Enforcer {
	t.Helper()
	e, err := enforce.Attach(g.Path, o)
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skipf("kernel: %v", err)
	}
	if err != nil {
		t.Fatalf("enforce.Attach: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// line is one line a client printed, and when it was read.
type line struct {
	text string
	at   time.Time
}

// client is a client process and its output.
type client struct {
	name  string
	cmd   *exec.Cmd
	lines chan line
}

// clientKinds are the programs under test: Python's socket module and Go's
// zero net.Dialer, neither setting an option flatline asks for.
var clientKinds = []string{"python", "go"}

// startClient starts a client of kind ("python" or "go") in mode against
// host:port, in ns (nil: this namespace) and in g (nil: this cgroup). It
// is killed when the test ends.
func startClient(t *testing.T, kind, mode, host, port string, ns *topology.Namespace, g *cgroup2.Group) *client {
	t.Helper()
	var cmd *exec.Cmd
	switch kind {
	case "python":
		py, err := exec.LookPath("python3")
		if err != nil {
			t.Skip("no python3")
		}
		cmd = exec.Command(py, "-c", pyClient, mode, host, port)
	case "go":
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(exe, "-test.run=^$")
		addr := host + ":" + port
		if strings.Contains(host, ":") {
			addr = "[" + host + "]:" + port
		}
		cmd.Env = append(os.Environ(), goClientEnv+"="+mode+" "+addr)
	}
	return startCmd(t, kind+"/"+mode, cmd, ns, g)
}

// startCmd starts cmd in ns (nil: this namespace) and in g (nil: this
// cgroup) and collects its output lines, standard error included. It is
// killed when the test ends.
func startCmd(t *testing.T, name string, cmd *exec.Cmd, ns *topology.Namespace, g *cgroup2.Group) *client {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if g != nil {
		attr, f, err := g.SysProcAttr()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.SysProcAttr = attr
	}
	start := cmd.Start
	if ns != nil {
		start = func() error { return ns.Do(cmd.Start) }
	}
	if err := start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	c := &client{name: name, cmd: cmd, lines: make(chan line, 8)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- line{sc.Text(), time.Now()}
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return c
}

// next returns the client's next line, failing the test after d.
func (c *client) next(t *testing.T, d time.Duration) line {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			t.Fatalf("%s: exited without a line", c.name)
		}
		return l
	case <-time.After(d):
		t.Fatalf("%s: no line within %v", c.name, d)
	}
	return line{}
}

// cutRun is a client of a partition test: kept says whether the plan
// protects it (enforced, applied), state which bound applies.
type cutRun struct {
	c     *client
	kept  bool
	state flatline.State
}

// cutAndJudge cuts the path in topo's router and checks that every kept
// run reports a line wantDead accepts within its state's bound plus slack,
// and that every other run (described as other) is still open at the cap:
// the largest bound plus slack, which it returns.
func cutAndJudge(t *testing.T, topo *topology.Topology, plan flatline.Plan, slack time.Duration, runs []cutRun, wantDead func(string) bool, other string) time.Duration {
	t.Helper()
	capAt := time.Duration(0)
	for _, s := range []flatline.State{flatline.StateIdle, flatline.StateSending} {
		d, _ := plan.Bound(s).Deadline()
		capAt = max(capAt, d+slack)
	}
	if err := topo.Apply(topology.Blackhole); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	timeout := time.After(capAt)
	for _, r := range runs {
		if !r.kept {
			continue
		}
		select {
		case l, ok := <-r.c.lines:
			if !ok {
				t.Errorf("%s: exited without a line", r.c.name)
				continue
			}
			d := l.at.Sub(t0)
			deadline, _ := plan.Bound(r.state).Deadline()
			t.Logf("%s: %q after %v (bound %v)", r.c.name, l.text, d.Round(time.Millisecond), plan.Bound(r.state))
			if !wantDead(l.text) {
				t.Errorf("%s: %q, want a timeout", r.c.name, l.text)
			}
			if d > deadline+slack {
				t.Errorf("%s: noticed after %v, bound %v + %v", r.c.name, d, deadline, slack)
			}
		case <-timeout:
			t.Errorf("%s: not noticed within %v", r.c.name, capAt)
			timeout = time.After(0)
		}
	}
	<-time.After(time.Until(t0.Add(capAt)))
	for _, r := range runs {
		if r.kept {
			continue
		}
		select {
		case l := <-r.c.lines:
			t.Errorf("%s%s: %q within %v, want still open", r.c.name, other, l.text, capAt)
		default:
			t.Logf("%s%s: still open after %v", r.c.name, other, capAt)
		}
	}
	return capAt
}

// drain is a server at the topology's ServerAddr:7100 that reads and
// discards, and notes when each connection last delivered data.
type drain struct {
	mu   sync.Mutex
	last map[string]time.Time // by the client's address
	read chan struct{}        // a read happened
}

// serveDrain starts a drain in topo's server namespace until the test ends.
func serveDrain(t *testing.T, topo *topology.Topology) *drain {
	t.Helper()
	var ln net.Listener
	if err := topo.Server.Do(func() (err error) { ln, err = net.Listen("tcp", ":7100"); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	d := &drain{last: map[string]time.Time{}, read: make(chan struct{}, 1)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go d.serve(c)
		}
	}()
	return d
}

func (d *drain) serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			d.mu.Lock()
			d.last[c.RemoteAddr().String()] = time.Now()
			d.mu.Unlock()
			select {
			case d.read <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// waitSenders waits until n connections have delivered data since it was
// called: the senders are sending now, with data in flight. It fails the
// test after 10 s.
func (d *drain) waitSenders(t *testing.T, n int) {
	t.Helper()
	since := time.Now()
	timeout := time.After(10 * time.Second)
	for {
		d.mu.Lock()
		got := 0
		for _, at := range d.last {
			if at.After(since) {
				got++
			}
		}
		d.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-d.read:
		case <-timeout:
			t.Fatalf("%d of %d senders delivered data within 10 s", got, n)
		}
	}
}

// sending counts the runs whose workload sends.
func sending(runs []cutRun) int {
	n := 0
	for _, r := range runs {
		if r.state == flatline.StateSending {
			n++
		}
	}
	return n
}
