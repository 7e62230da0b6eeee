package enforce_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/diag"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/flatline-dev/flatline/internal/topology"
)

// labServer builds a topology with a draining server at ServerAddr:7100.
func labServer(t *testing.T) *topology.Topology {
	t.Helper()
	topo := testutil.Topology(t)
	var ln net.Listener
	if err := topo.Server.Do(func() (err error) { ln, err = net.Listen("tcp", ":7100"); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(io.Discard, c) }()
		}
	}()
	return topo
}

// TestIntegrationApplyPartition: running programs that set no option
// (Python) or Go's defaults, fixed mid-life by enforce.Apply at T = 5 s, notice a
// partition within the plan's bound; an untouched twin is still open.
func TestIntegrationApplyPartition(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("waits for the partition to be noticed (about 6 s)")
	}
	const T = 5 * time.Second
	plan, err := flatline.Config{Timeout: T}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	topo := labServer(t)
	var runs []cutRun
	for _, applied := range []bool{true, false} {
		for _, kind := range clientKinds {
			for _, mode := range []flatline.State{flatline.StateIdle, flatline.StateSending} {
				c := startClient(t, kind, string(mode), topo.ServerAddr.String(), "7100", topo.Client, nil)
				if applied {
					c.name += " (applied)"
				}
				runs = append(runs, cutRun{c, applied, mode})
			}
		}
	}
	for _, r := range runs {
		if got := r.c.next(t, 10*time.Second).text; !strings.HasPrefix(got, "connected ") {
			t.Fatalf("%s: %q", r.c.name, got)
		}
	}
	for _, r := range runs {
		if !r.kept {
			continue
		}
		rep, err := enforce.Apply(context.Background(), r.c.cmd.Process.Pid, enforce.ApplyOptions{Config: flatline.Config{Timeout: T}})
		if err != nil {
			t.Fatalf("enforce.Apply %s: %v", r.c.name, err)
		}
		var estab int
		for _, s := range rep.Sockets {
			if s.Err != nil {
				t.Errorf("%s fd %d: %v", r.c.name, s.FD, s.Err)
				continue
			}
			if s.State != "ESTAB" {
				continue
			}
			estab++
			after := *s.After
			after.SynCount = 0 // read back: the namespace's tcp_syn_retries, the plan leaves it
			if after != plan.Settings {
				t.Errorf("%s fd %d: after %+v, want %+v", r.c.name, s.FD, *s.After, plan.Settings)
			}
			t.Logf("%s fd %d %s: %v -> %v", r.c.name, s.FD, s.Traffic, s.BeforeBound, s.AfterBound)
		}
		if estab != 1 {
			t.Errorf("%s: %d established sockets applied, want 1", r.c.name, estab)
		}
	}
	time.Sleep(200 * time.Millisecond) // data in flight for the senders

	// Stated slack as in TestIntegrationPartition, plus the spread: enforce.Apply
	// re-arms keepalive at a random instant within Plan.Spread of its
	// call, and the idle bound counts from that re-arm.
	const slack = 300 * time.Millisecond
	cutAndJudge(t, topo, plan, slack, runs, func(text string) bool { return strings.Contains(strings.ToLower(text), "timed out") }, ", not applied")
}

// TestIntegrationApplyDryRunAndBadPID: a dry run changes nothing; a pid
// that does not exist is diag.ErrNoProcess.
func TestIntegrationApplyDryRunAndBadPID(t *testing.T) {
	needRoot(t)
	host, port := listenLoopback(t)
	c := startClient(t, "python", "idle", host, port, nil, nil)
	if got := c.next(t, 10*time.Second).text; !strings.HasPrefix(got, "connected ka=0 ") {
		t.Fatalf("python: %q", got)
	}
	pid := c.cmd.Process.Pid
	rep, err := enforce.Apply(context.Background(), pid, enforce.ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sockets) != 1 || rep.Changed != 0 || rep.Sockets[0].Before.KeepAlive || !rep.Sockets[0].After.KeepAlive {
		t.Fatalf("dry run: %+v", rep)
	}
	again, err := enforce.Apply(context.Background(), pid, enforce.ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.Sockets[0].Before.KeepAlive {
		t.Errorf("dry run changed the socket: %+v", again.Sockets[0].Before)
	}
	// A pid that cannot exist (above pid_max's limit of 2^22).
	if _, err := enforce.Apply(context.Background(), 1<<23, enforce.ApplyOptions{}); !errors.Is(err, diag.ErrNoProcess) {
		t.Errorf("enforce.Apply(missing pid) = %v, want diag.ErrNoProcess", err)
	}
}
