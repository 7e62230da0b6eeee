package kernel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationSweepNetNSOnlyMarked: a namespace named with the prefix
// and a dead pid is swept only when NewNetNS made it (its mark); another
// tool's namespace with the same kind of name stays.
func TestIntegrationSweepNetNSOnlyMarked(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make network namespaces")
	}
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Skip(err)
	}
	dead := strings.TrimSpace(string(b)) + "1" // beyond pid_max: never alive
	dir := t.TempDir()
	ours := filepath.Join(dir, "flt-"+dead+"-ours")
	theirs := filepath.Join(dir, "flt-"+dead+"-theirs")
	for _, p := range []string{ours, theirs} {
		if err := NewNetNS(p); err != nil {
			t.Skipf("cannot make a network namespace: %v", err)
		}
		defer RemoveNetNS(p)
	}
	if err := os.Remove(markPath(theirs)); err != nil { // as made by another tool
		t.Fatal(err)
	}
	removed, err := SweepNetNS(dir, "flt-")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != filepath.Base(ours) {
		t.Errorf("swept %v, want only %s", removed, filepath.Base(ours))
	}
	if ok, err := SameNetNS(theirs); err != nil || ok {
		t.Errorf("%s: %v, %v: want it left, a namespace of its own", theirs, ok, err)
	}
	if _, err := os.Stat(markPath(ours)); err == nil {
		t.Errorf("mark of swept %s left behind", ours)
	}
}
