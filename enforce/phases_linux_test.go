package enforce_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/diag"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// TestIntegrationSpreadPhases measures what spreading does to the keepalive
// schedule: 200 connections opened together by one program in a cgroup
// under enforce at T = 30 s, with the plan's spread (7 s) and with
// NoSpread. The oracle is the kernel's own keepalive timer of each socket
// (inet_diag's expiry). Counted: the most timers due within one timer-wheel
// bucket (what leaves as one burst of probes if the path dies now).
func TestIntegrationSpreadPhases(t *testing.T) {
	needRoot(t)
	const T, n = 30 * time.Second, 200
	host, port := listenLoopback(t)
	worst := map[string]int{}
	hz, _ := kernel.HostHZ("/") // 0 (unknown): the largest bucket over common HZ
	for _, c := range []struct {
		name   string
		spread time.Duration
	}{{"spread", 0}, {"no-spread", flatline.NoSpread}} {
		cfg := flatline.Config{Timeout: T, Spread: c.spread}
		plan, err := cfg.Plan()
		if err != nil {
			t.Fatal(err)
		}
		g := newGroup(t, "phases-"+c.name)
		attachT(t, g, enforce.Options{Config: cfg})
		py, err := exec.LookPath("python3")
		if err != nil {
			t.Skip("no python3")
		}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(py, "-c", pyClient, fmt.Sprintf("many%d", n), host, port)
		cmd.Stdin = r
		cl := startCmd(t, "python/"+c.name, cmd, nil, g)
		r.Close()
		for range n {
			cl.next(t, 10*time.Second)
		}
		rep, err := diag.Scan(context.Background(), diag.Options{PID: cmd.Process.Pid})
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		var due []time.Duration
		for _, s := range rep.Sockets {
			if s.Timer == diag.TimerKeepalive {
				due = append(due, time.Duration(s.Expires)*time.Millisecond)
			}
		}
		if len(due) != n {
			t.Fatalf("%s: %d sockets with a keepalive timer, want %d", c.name, len(due), n)
		}
		bucket := kernel.Granularity(hz, plan.Settings.Idle)
		slices.Sort(due)
		for i := range due {
			j := i
			for j < len(due) && due[j]-due[i] < bucket {
				j++
			}
			worst[c.name] = max(worst[c.name], j-i)
		}
		t.Logf("%s (idle %v, spread %v): first probes due %v to %v; at most %d of %d within one %v bucket",
			c.name, plan.Settings.Idle, plan.Spread, due[0], due[n-1], worst[c.name], n, bucket)
	}
	if worst["spread"]*3 > worst["no-spread"] {
		t.Errorf("spreading left %d timers in one bucket, without it %d: want at most a third", worst["spread"], worst["no-spread"])
	}
}
