package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/lab"
)

// The bounds the fault tests assert, at T = 3 s.
const (
	faultT = 3 * time.Second
	// schedSlack is what the tests allow beyond T for the Go scheduler and
	// the kernel's timers on a loaded 2-core machine.
	schedSlack = 500 * time.Millisecond
	// reconnectBound is how soon after the path heals the replica is back:
	// its own side fails within T, a dial into the healed path may wait
	// for the next SYN retransmission (1 s, 2 s after the first), and a
	// retry waits up to T/10.
	reconnectBound = 2*faultT + schedSlack
)

// world is a primary in the lab's client namespace committing every 10 ms,
// and a replica process (this test binary) in the server namespace.
type world struct {
	topo    *lab.Topology
	p       *Primary
	addr    string
	replica *exec.Cmd

	mu      sync.Mutex
	longest time.Duration // the longest commit since the last reset
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topo, err := lab.New(ctx)
	if errors.Is(err, lab.ErrNotSupported) {
		t.Skipf("lab not supported here: %v", err)
	}
	if err != nil {
		t.Fatalf("lab.New: %v", err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	w := &world{topo: topo, addr: net.JoinHostPort(topo.ClientAddr.String(), "7400")}
	var ln net.Listener
	if err := topo.Client.Do(func() error {
		lc := flatline.ListenConfig{Config: flatline.Config{Timeout: faultT}}
		ln, err = lc.Listen(ctx, "tcp", w.addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	w.p = NewPrimary(ln, Config{Timeout: faultT, MaxLag: 64})
	commits, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		rec := make([]byte, 128)
		for {
			select {
			case <-commits.Done():
				return
			case <-tick.C:
			}
			began := time.Now()
			if _, err := w.p.Commit(commits, rec); err != nil {
				return
			}
			w.mu.Lock()
			w.longest = max(w.longest, time.Since(began))
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		stop()
		wg.Wait()
		w.p.Close()
	})
	w.startReplica(t)
	w.waitUp(t, 10*time.Second)
	return w
}

func (w *world) startReplica(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s", replicaEnv, w.addr, faultT))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.topo.Server.Do(cmd.Start); err != nil {
		t.Fatal(err)
	}
	w.replica = cmd
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// waitUp waits for the replica link to come up and the replica to catch up.
func (w *world) waitUp(t *testing.T, within time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	e := w.next(t, within)
	if !e.Up {
		t.Fatalf("replica failed instead of coming up: %v", e)
	}
	up := e.At.Sub(began)
	waitFor(t, w.p, faultT, "replica caught up", func(s Status) bool { return s.Committed-s.Acked <= 2 })
	return up
}

func (w *world) next(t *testing.T, within time.Duration) Event {
	t.Helper()
	select {
	case e := <-w.p.Events():
		return e
	case <-time.After(within):
		t.Fatalf("no change of the replica link within %v (status %+v)", within, w.p.Status())
	}
	return Event{}
}

func (w *world) resetLongest() {
	w.mu.Lock()
	w.longest = 0
	w.mu.Unlock()
}

func (w *world) longestCommit() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.longest
}

// TestIntegrationFaults: under every fault of the lab the primary fails
// the replica within T, commits never wait longer than that, and the
// replica is back and caught up soon after the path heals.
func TestIntegrationFaults(t *testing.T) {
	for _, tt := range []struct {
		name        string
		fault, heal func(t *testing.T, w *world)
	}{
		{"partition", applying(lab.Blackhole), healing},
		{"one-way-out", applying(lab.OneWayOut), healing},
		{"one-way-in", applying(lab.OneWayIn), healing},
		{"link-down", applying(lab.LinkDown), healing},
		{"replica-frozen", signalling(syscall.SIGSTOP), signalling(syscall.SIGCONT)},
		{"replica-rebooted", func(t *testing.T, w *world) {
			applying(lab.Blackhole)(t, w)
			w.replica.Process.Kill()
			w.replica.Wait()
		}, func(t *testing.T, w *world) {
			healing(t, w)
			w.startReplica(t) // back with nothing committed
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.resetLongest()
			tt.fault(t, w)
			at := time.Now()
			e := w.next(t, faultT+schedSlack)
			if e.Up {
				t.Fatalf("replica came up instead of failing: %v", e)
			}
			failed := e.At.Sub(at)
			if failed > faultT+schedSlack {
				t.Errorf("replica failed %v after the fault, bound T = %v (+%v)", failed, faultT, schedSlack)
			}
			if l := w.longestCommit(); l > faultT+schedSlack {
				t.Errorf("a commit waited %v, bound T = %v (+%v)", l, faultT, schedSlack)
			}
			tt.heal(t, w)
			back := w.waitUp(t, reconnectBound)
			t.Logf("failed %v after the fault (%v); longest commit %v; back %v after healing",
				failed.Round(time.Millisecond), e.Err, w.longestCommit().Round(time.Millisecond), back.Round(time.Millisecond))
		})
	}
}

func applying(f lab.Fault) func(*testing.T, *world) {
	return func(t *testing.T, w *world) {
		t.Helper()
		if err := w.topo.Apply(f); err != nil {
			t.Fatal(err)
		}
	}
}

func healing(t *testing.T, w *world) {
	t.Helper()
	if err := w.topo.Heal(); err != nil {
		t.Fatal(err)
	}
}

func signalling(sig syscall.Signal) func(*testing.T, *world) {
	return func(t *testing.T, w *world) {
		t.Helper()
		if err := w.replica.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
}
