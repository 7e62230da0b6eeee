package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/flatline-dev/flatline/internal/topology"
)

// TestIntegrationEnforceApplyJudged is the judgement, end to end
// through the command line: redis-cli (a program the project did not
// write), subscribed to a real redis-server across the lab's router, once
// in a cgroup under `flatline enforce --cgroup PATH --timeout 5s` and once
// fixed by `flatline apply --pid N --timeout 5s`, notices a cut path within
// 5.5 s; an untouched redis-cli stays open; after enforce stops nothing is
// attached to the cgroup.
func TestIntegrationEnforceApplyJudged(t *testing.T) {
	g := needEnforce(t)
	if testing.Short() {
		t.Skip("waits 5.5 s for the partition to be noticed")
	}
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server")
	}
	rcli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("no redis-cli")
	}
	topo := testutil.Topology(t)

	// flatline enforce, in the foreground.
	enf := flatlineCmd(t, "enforce", "--cgroup", g.Path, "--timeout", "5s")
	enfOut, _ := enf.StdoutPipe()
	enf.Stderr = os.Stderr
	if err := enf.Start(); err != nil {
		t.Fatal(err)
	}
	defer enf.Process.Kill()
	enfLines := bufio.NewScanner(enfOut)
	if !enfLines.Scan() || !strings.HasPrefix(enfLines.Text(), "enforcing ") {
		t.Fatalf("flatline enforce said %q", enfLines.Text())
	}

	// redis-server in the server namespace.
	srv := exec.Command(server, "--port", "7200", "--bind", "0.0.0.0", "--protected-mode", "no",
		"--save", "", "--appendonly", "no", "--tcp-keepalive", "0", "--dir", t.TempDir())
	srvOut, _ := srv.StdoutPipe()
	if err := topo.Server.Do(srv.Start); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	sc := bufio.NewScanner(srvOut)
	for sc.Scan() && !strings.Contains(sc.Text(), "Ready to accept connections") {
	}
	go func() {
		for sc.Scan() {
		}
	}()

	// Three subscribers in the client namespace.
	type sub struct {
		name  string
		cmd   *exec.Cmd
		lines chan time.Time
	}
	start := func(name string, inCgroup bool) *sub {
		cmd := exec.Command(rcli, "-h", topo.ServerAddr.String(), "-p", "7200", "SUBSCRIBE", "ch")
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = cmd.Stdout
		if inCgroup {
			attr, f, err := g.SysProcAttr()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmd.SysProcAttr = attr
		}
		if err := topo.Client.Do(cmd.Start); err != nil {
			t.Fatal(err)
		}
		s := &sub{name: name, cmd: cmd, lines: make(chan time.Time, 8)}
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(out)
			for i := 0; sc.Scan(); i++ {
				if i == 2 { // subscribe, ch, 1
					close(ready)
				} else if i > 2 {
					s.lines <- time.Now()
				}
			}
		}()
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not subscribed within 10 s", name)
		}
		return s
	}
	enforced := start("redis-cli in the cgroup under flatline enforce", true)
	applied := start("redis-cli after flatline apply", false)
	untouched := start("untouched redis-cli", false)
	defer func() {
		for _, s := range []*sub{enforced, applied, untouched} {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	}()
	var out, errOut strings.Builder
	if code := Run([]string{"apply", "--pid", strconv.Itoa(applied.cmd.Process.Pid), "--timeout", "5s", "--json"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("flatline apply: exit %d: %s", code, errOut.String())
	}
	var rep applyJSON
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil || rep.Changed != 1 {
		t.Fatalf("flatline apply: %v: %s", err, out.String())
	}

	const judged = 5500 * time.Millisecond
	if err := topo.Apply(topology.Blackhole); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	timeout := time.After(judged)
	for _, s := range []*sub{enforced, applied} {
		select {
		case at := <-s.lines:
			t.Logf("%s: noticed after %v", s.name, at.Sub(t0).Round(time.Millisecond))
		case <-timeout:
			t.Errorf("%s: nothing within %v", s.name, judged)
			timeout = time.After(0)
		}
	}
	<-time.After(time.Until(t0.Add(judged)))
	select {
	case at := <-untouched.lines:
		t.Errorf("%s: said something after %v, want still open", untouched.name, at.Sub(t0))
	default:
		t.Logf("%s: still open after %v", untouched.name, judged)
	}

	enf.Process.Signal(syscall.SIGTERM)
	if err := enf.Wait(); err != nil {
		t.Errorf("flatline enforce after SIGTERM: %v", err)
	}
	if got := attachedTo(t, g.Path); got != "" {
		t.Errorf("after enforce stopped, attached: %s", got)
	}
}
