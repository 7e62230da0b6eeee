package enforce_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/diag"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

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
	topo := testutil.Topology(t)
	srv := serveDrain(t, topo)
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
	srv.waitSenders(t, sending(runs)) // data in flight, as when a path is cut under them

	// Stated slack as in TestIntegrationPartition.
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

// TestIntegrationApplyKeepsStricter is issue 19's case: a socket at
// keepalive 1 s/1 s/2 with a 2.5 s user timeout stays as it is under the
// plan of 30 s (8 s/5 s/3, 22.6 s), and the report names what it kept.
func TestIntegrationApplyKeepsStricter(t *testing.T) {
	needRoot(t)
	host, port := listenLoopback(t)
	c := startClient(t, "python", "stricter", host, port, nil, nil)
	want := "connected ka=1 idle=1 intvl=1 cnt=2 ut=2500"
	if got := c.next(t, 10*time.Second).text; got != want {
		t.Fatalf("python: %q, want %q", got, want)
	}
	rep, err := enforce.Apply(context.Background(), c.cmd.Process.Pid, enforce.ApplyOptions{Config: flatline.Config{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sockets) != 1 || rep.Sockets[0].Err != nil {
		t.Fatalf("report: %+v", rep.Sockets)
	}
	s := rep.Sockets[0]
	stricter := flatline.Settings{KeepAlive: true, Idle: time.Second, Interval: time.Second, Count: 2, UserTimeout: 2500 * time.Millisecond}
	after := *s.After
	after.SynCount, after.RTOMax = 0, 0 // the kernel's, left alone
	if after != stricter || s.Changed || rep.Changed != 0 {
		t.Errorf("after %+v (changed %v), want %+v unchanged", *s.After, s.Changed, stricter)
	}
	// Kept: the values strictly below the plan's.
	p := rep.Plan.Settings
	var wantKept []string
	for _, o := range []struct {
		name      string
		has, plan time.Duration
	}{
		{"TCP_KEEPIDLE", stricter.Idle, p.Idle}, {"TCP_KEEPINTVL", stricter.Interval, p.Interval},
		{"TCP_KEEPCNT", time.Duration(stricter.Count), time.Duration(p.Count)}, {"TCP_USER_TIMEOUT", stricter.UserTimeout, p.UserTimeout},
	} {
		if o.has < o.plan {
			wantKept = append(wantKept, o.name)
		}
	}
	if diff := cmp.Diff(wantKept, s.Kept); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
}

// TestIntegrationApplyHoldsNothing is issue 19's close delay: with a long
// timeout (T = 5 min, spread 73 s), Apply returns holding no descriptor of
// the process, and when the process closes its socket right after, the
// peer sees the FIN at once (it used to stay ESTABLISHED, owned by
// flatline, for the re-arm spread).
func TestIntegrationApplyHoldsNothing(t *testing.T) {
	needRoot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	c := startClient(t, "python", "closeonbyte", host, port, nil, nil)
	if got := c.next(t, 10*time.Second).text; !strings.HasPrefix(got, "connected ") {
		t.Fatalf("python: %q", got)
	}
	peer := <-accepted
	t.Cleanup(func() { peer.Close() })

	// A cap, not a speed claim: the old Apply waited up to the spread.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := enforce.Apply(ctx, c.cmd.Process.Pid, enforce.ApplyOptions{Config: flatline.Config{Timeout: 5 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed != 1 {
		t.Fatalf("report: %+v", rep.Sockets)
	}
	if n := socketsHeld(t, rep.Sockets[0].Inode); n > 0 {
		t.Errorf("after Apply this process holds %d descriptors of the process's socket", n)
	}
	if _, err := peer.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if got := c.next(t, 10*time.Second).text; got != "closed" {
		t.Fatalf("python: %q", got)
	}
	// The peer's read ends with EOF once the FIN arrives (on loopback, at
	// once); 2 s is slack for a loaded machine.
	peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("peer read after the process closed its socket: %v, want EOF (a descriptor still holds it)", err)
	}
}

// socketsHeld counts this process's descriptors that are the socket with
// inode ino.
func socketsHeld(t *testing.T, ino uint64) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l == fmt.Sprintf("socket:[%d]", ino) {
			n++
		}
	}
	return n
}

// TestIntegrationApplyJitter: at T = 30 s Apply spreads as enforce does:
// the socket's idle and user timeout are the plan's plus kernel.Jitter of
// its ports, and the report's bound includes it.
func TestIntegrationApplyJitter(t *testing.T) {
	needRoot(t)
	const T = 30 * time.Second
	plan, err := flatline.Config{Timeout: T}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	host, port := listenLoopback(t)
	c := startClient(t, "python", "idle", host, port, nil, nil)
	if got := c.next(t, 10*time.Second).text; !strings.HasPrefix(got, "connected ka=0 ") {
		t.Fatalf("python: %q", got)
	}
	rep, err := enforce.Apply(context.Background(), c.cmd.Process.Pid, enforce.ApplyOptions{Config: flatline.Config{Timeout: T}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sockets) != 1 || rep.Sockets[0].Err != nil || rep.Sockets[0].After == nil {
		t.Fatalf("report: %+v", rep.Sockets)
	}
	s := rep.Sockets[0]
	j := kernel.Jitter(plan.JitterOffsets, plan.JitterStep, s.Local.Port(), s.Remote.Port())
	if s.Jitter != j || s.After.Idle != plan.Settings.Idle+j || s.After.UserTimeout != plan.Settings.UserTimeout+j {
		t.Errorf("ports %v -> %v: jitter %v, after %+v; want jitter %v on idle %v and user timeout %v",
			s.Local, s.Remote, s.Jitter, *s.After, j, plan.Settings.Idle, plan.Settings.UserTimeout)
	}
	if b := plan.Bound(s.Traffic); s.AfterBound.Worst > b.Worst {
		t.Errorf("after: %v, past the plan's %v", s.AfterBound, b)
	}
	t.Logf("ports %v -> %v: jitter %v, after %v", s.Local, s.Remote, s.Jitter, s.AfterBound)
}
