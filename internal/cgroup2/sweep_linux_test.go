package cgroup2

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationSweepOnlyMarked: a cgroup with the package's prefix and
// a dead pid is swept only when it carries New's mark: another tool may
// use the same prefix.
func TestIntegrationSweepOnlyMarked(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make cgroups")
	}
	m, err := Mount()
	if err != nil {
		t.Skip(err)
	}
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Skip(err)
	}
	dead := strings.TrimSpace(string(b)) + "1" // beyond pid_max: never alive
	foreign := filepath.Join(m, Prefix+dead+"-not-ours")
	if err := os.Mkdir(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(foreign)
	ours, err := New("sweep")
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Remove()
	if !marked(ours.Path) {
		t.Fatalf("%s made by New carries no mark", ours.Path)
	}
	stale := filepath.Join(m, Prefix+dead+"-ours") // as if made by a dead run
	if err := os.Mkdir(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(stale)
	if err := mark(stale); err != nil {
		t.Fatal(err)
	}
	removed, err := Sweep()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("Sweep removed %s, which it did not make: %v", foreign, err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("Sweep left %s, made by a dead run (removed %v)", stale, removed)
	}
}
