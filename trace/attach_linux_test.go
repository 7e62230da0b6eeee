package trace

import (
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
