package diag

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/lab"
)

// TestIntegrationInspectBoundsRealServer holds a connection to a real
// redis-server (the distribution's package, `tcp-keepalive 3`: redis sets
// keepalive 3 s / 1 s / 3 on its own sockets, no user timeout) in the lab's
// server namespace, cuts the path in the router, inspects redis's socket
// right after the cut, and then watches it until the kernel ends it: the
// end must come no later than the worst case inspect reported (which
// includes the timer slack the plan states), plus 100 ms for this test's
// polling. Before worst_case_s carried the slack the kernel ended such
// sockets 0.24-0.55 s after it.
func TestIntegrationInspectBoundsRealServer(t *testing.T) {
	requireRoot(t)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (Debian package redis-server; .ci/run installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topo, err := lab.New(ctx)
	if errors.Is(err, lab.ErrNotSupported) {
		t.Skipf("no network namespaces: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Errorf("close topology: %v", err)
		}
	})
	const port = 6390
	addr := net.JoinHostPort(topo.ServerAddr.String(), fmt.Sprint(port))
	cmd := exec.CommandContext(ctx, bin, "--port", fmt.Sprint(port), "--bind", topo.ServerAddr.String(),
		"--tcp-keepalive", "3", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := topo.Server.Do(cmd.Start); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("redis-server did not start")
	}
	var c net.Conn
	if err := topo.Client.Do(func() error {
		var err error
		c, err = net.Dial("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING: %q, %v", line, err)
	}
	server := helperSocket{Local: addr, Remote: c.LocalAddr().String()}

	if err := topo.Apply(lab.Blackhole); err != nil {
		t.Fatal(err)
	}
	scanned := time.Now()
	r, err := Scan(ctx, Options{PID: cmd.Process.Pid})
	if err != nil {
		t.Fatal(err)
	}
	s := find(r, server)
	if s == nil {
		t.Fatalf("redis's socket %v not in the report", server)
	}
	if s.Settings == nil || !s.Known || s.Never {
		t.Fatalf("redis's socket: settings %v, known %v, never %v (%s)", s.Settings, s.Known, s.Never, s.Reason)
	}
	t.Logf("redis's socket: keepalive %v/%v/%d, user timeout %v, verdict %s, worst %v, lost probes %d: %s",
		s.Settings.Idle, s.Settings.Interval, s.Settings.Count, s.Settings.UserTimeout, s.Verdict, s.Worst, s.LostProbes, s.Reason)
	// Watch the socket table (the inspector's own --watch, 20 ms polls)
	// until redis's socket leaves ESTABLISHED or goes away.
	wctx, wcancel := context.WithTimeout(ctx, s.Worst+5*time.Second)
	defer wcancel()
	errEnded := errors.New("ended")
	var ended time.Time
	err = Watch(wctx, Options{PID: cmd.Process.Pid}, WatchOptions{Interval: 20 * time.Millisecond}, func(tr Transition) error {
		if tr.Local.String() != server.Local || tr.Remote.String() != server.Remote {
			return nil
		}
		if tr.Gone || (!tr.Appeared && tr.ToTCP != StateEstablished) {
			ended = tr.Time
			return errEnded
		}
		return nil
	})
	if !errors.Is(err, errEnded) {
		t.Fatalf("redis's socket not ended %v after the scan (worst case %v): %v", time.Since(scanned), s.Worst, err)
	}
	gone := ended.Sub(scanned)
	t.Logf("the kernel ended it %v after the scan (worst case %v)", gone, s.Worst)
	if gone > s.Worst+100*time.Millisecond {
		t.Errorf("ended %v after the scan, past inspect's worst case %v (+100 ms for the 20 ms polls)", gone, s.Worst)
	}
}
