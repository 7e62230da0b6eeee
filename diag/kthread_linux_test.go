package diag

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestScanKernelThread: a kernel thread's pid gives no sockets and a note
// that says why.
func TestScanKernelThread(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading a kernel thread's namespace needs root")
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip(err)
	}
	pid := 0
	for _, e := range entries {
		if p, err := strconv.Atoi(e.Name()); err == nil && isKernelThread(p) {
			pid = p
			break
		}
	}
	if pid == 0 {
		t.Skip("no kernel thread visible in this PID namespace")
	}
	if isKernelThread(os.Getpid()) {
		t.Fatal("this process taken for a kernel thread")
	}
	r, err := Scan(context.Background(), Options{PID: pid})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sockets) != 0 || !strings.Contains(strings.Join(r.Notes, "\n"), "is a kernel thread") {
		t.Errorf("pid %d (kernel thread): %d sockets, notes %q; want none and a note that it is a kernel thread", pid, len(r.Sockets), r.Notes)
	}
}
