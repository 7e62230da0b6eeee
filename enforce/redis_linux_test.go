package enforce_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/testutil"
)

// TestIntegrationRedisCLI: redis-cli, a program the project did not write
// (it sets its own keepalive, 15 s), subscribed to a channel of a real
// redis-server across the lab's router, inside a cgroup under enforce at
// T = 5 s: the router drops everything and redis-cli reports the dead
// connection within the plan's idle bound. The same redis-cli outside the
// cgroup says nothing by then; a third one, outside, fixed by Apply after
// subscribing, notices too.
func TestIntegrationRedisCLI(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("waits for the partition to be noticed (about 6 s)")
	}
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("no redis-cli")
	}
	const T = 5 * time.Second
	plan, err := flatline.Config{Timeout: T}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	topo := testutil.Topology(t)
	srv := startCmd(t, "redis-server", exec.Command(server, "--port", "7200", "--bind", "0.0.0.0", "--protected-mode", "no",
		"--save", "", "--appendonly", "no", "--tcp-keepalive", "0", "--dir", t.TempDir()), topo.Server, nil)
	for l := range srv.lines {
		if strings.Contains(l.text, "Ready to accept connections") {
			break
		}
	}
	go func() {
		for range srv.lines {
		}
	}()
	g := newGroup(t, "redis")
	e := attachT(t, g, enforce.Options{Config: flatline.Config{Timeout: T}})
	in := startCmd(t, "redis-cli (enforced)", exec.Command(cli, "-h", topo.ServerAddr.String(), "-p", "7200", "SUBSCRIBE", "ch"), topo.Client, g)
	applied := startCmd(t, "redis-cli (applied)", exec.Command(cli, "-h", topo.ServerAddr.String(), "-p", "7200", "SUBSCRIBE", "ch"), topo.Client, nil)
	out := startCmd(t, "redis-cli (outside)", exec.Command(cli, "-h", topo.ServerAddr.String(), "-p", "7200", "SUBSCRIBE", "ch"), topo.Client, nil)
	for _, c := range []*client{in, applied, out} {
		for range 3 { // subscribe, ch, 1
			c.next(t, 10*time.Second)
		}
	}
	rep, err := enforce.Apply(context.Background(), applied.cmd.Process.Pid, enforce.ApplyOptions{Config: flatline.Config{Timeout: T}})
	if err != nil || rep.Changed != 1 || rep.Failed != 0 {
		t.Fatalf("Apply to redis-cli: %v, %+v", err, rep)
	}
	s, _ := e.Stats()
	t.Logf("stats after connecting: %+v", s)

	const slack = 300 * time.Millisecond // the client printing its line
	deadline, _ := plan.Bound(flatline.StateIdle).Deadline()
	if err := topo.Apply("blackhole"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	timeout := time.After(deadline + slack)
	for _, c := range []*client{in, applied} {
		select {
		case l := <-c.lines:
			d := l.at.Sub(t0)
			t.Logf("%s: %q after %v (bound %v)", c.name, l.text, d.Round(time.Millisecond), plan.Bound(flatline.StateIdle))
			if d > deadline+slack {
				t.Errorf("%s: noticed after %v, bound %v + %v", c.name, d, deadline, slack)
			}
		case <-timeout:
			t.Errorf("%s: nothing within %v", c.name, deadline+slack)
			timeout = time.After(0)
		}
	}
	<-time.After(time.Until(t0.Add(deadline + slack)))
	select {
	case l := <-out.lines:
		t.Errorf("%s: %q within %v, want still open", out.name, l.text, deadline+slack)
	default:
		t.Logf("%s: still open after %v", out.name, deadline+slack)
	}
}
