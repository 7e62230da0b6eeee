package trace

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/cgroup2"
)

// TestIntegrationTraceCgroup: two client processes, one started in a
// cgroup of the test's own, are reset by the server; with Options.Cgroup
// the tracer reports the one in the cgroup only, with its pid.
func TestIntegrationTraceCgroup(t *testing.T) {
	needRoot(t)
	g, err := cgroup2.New("trace")
	if errors.Is(err, cgroup2.ErrNoCgroup2) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	tr, err := New(Options{Cgroup: g.Path})
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func(inGroup bool) *exec.Cmd {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s", clientEnv, ln.Addr()))
		cmd.Stderr = os.Stderr
		if inGroup {
			attr, f, err := g.SysProcAttr()
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmd.SysProcAttr = attr
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	for _, inGroup := range []bool{false, true} {
		cmd := start(inGroup)
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s.(*net.TCPConn).SetLinger(0)
		s.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("client (in the cgroup: %v): %v", inGroup, err)
		}
		if !inGroup {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e, err := tr.Read(ctx)
		if err != nil {
			t.Fatalf("no death in the cgroup: %v", err)
		}
		if e.PID != cmd.Process.Pid || e.Cause != flatline.CauseReset {
			t.Errorf("event %s, want the reset of pid %d (the client in the cgroup; the other was pid outside it)", jsonOf(e), cmd.Process.Pid)
		}
	}
}
