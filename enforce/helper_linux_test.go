package enforce_test

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/cgroup2"
	"github.com/flatline-dev/flatline/lab"
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
func startClient(t *testing.T, kind, mode, host, port string, ns *lab.Namespace, g *cgroup2.Group) *client {
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
func startCmd(t *testing.T, name string, cmd *exec.Cmd, ns *lab.Namespace, g *cgroup2.Group) *client {
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
