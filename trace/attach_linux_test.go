package trace

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// needRoot skips a test that loads BPF programs when not root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root")
	}
}

// TestIntegrationDetach proves Close unloads every program New loaded.
func TestIntegrationDetach(t *testing.T) {
	needRoot(t)
	tr, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := tr.programIDs()
	if len(ids) != 3 {
		t.Fatalf("loaded %d programs, want 3", len(ids))
	}
	for _, id := range ids {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			t.Fatalf("program %d not loaded while tracing: %v", id, err)
		}
		p.Close()
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if left := waitUnloaded(ids, 10*time.Second); len(left) > 0 {
		t.Errorf("programs %v still loaded 10 s after Close", left)
	}
}

// waitUnloaded returns the programs of ids still loaded after d. The kernel
// frees a program in deferred work after its last link and fd close, and
// announces it nowhere: this polls, bounded by d.
func waitUnloaded(ids []ebpf.ProgramID, d time.Duration) []ebpf.ProgramID {
	deadline := time.Now().Add(d)
	for {
		var left []ebpf.ProgramID
		for _, id := range ids {
			p, err := ebpf.NewProgramFromID(id)
			if err == nil {
				p.Close()
				left = append(left, id)
			} else if !errors.Is(err, os.ErrNotExist) {
				left = append(left, id)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIntegrationReadEnds: a Read with nothing to report ends when its
// context does, and when the Tracer is closed, whether or not any
// connection on the host dies meanwhile.
func TestIntegrationReadEnds(t *testing.T) {
	needRoot(t)
	tr, err := New(Options{PID: 1 << 30}) // no such process: nothing is reported
	if err != nil {
		t.Skip(err)
	}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := tr.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read after its deadline: %v, want context.DeadlineExceeded", err)
	}
	// The deadline plus scheduling on a loaded machine: a stated bound,
	// not a speed claim.
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Read returned %v after a 200 ms deadline", d)
	}
	done := make(chan error, 1)
	go func() {
		_, err := tr.Read(context.Background())
		done <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the Read block: what is tested is that Close wakes it
	tr.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Read after Close: %v, want ErrClosed", err)
		}
	case <-time.After(3 * time.Second):
		t.Errorf("Read still blocked 3 s after Close")
	}
}
