package cli

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/cgroup2"
)

// TestIntegrationEnforceDetachRemovedCgroup: a pinned enforcement whose
// cgroup was removed (or removed and made again at the same path, with
// another id) is still removed by --detach, which says what it did, and
// its programs are unloaded.
func TestIntegrationEnforceDetachRemovedCgroup(t *testing.T) {
	for _, remake := range []bool{false, true} {
		name := map[bool]string{false: "removed", true: "remade"}[remake]
		t.Run(name, func(t *testing.T) {
			g := needEnforce(t)
			dir := t.TempDir()
			if err := syscall.Mount("bpf", dir, "bpf", 0, ""); err != nil {
				t.Skipf("mount bpffs: %v", err)
			}
			defer syscall.Unmount(dir, 0)
			var out, errOut bytes.Buffer
			if code := Run([]string{"enforce", "--cgroup", g.Path, "--timeout", "5s", "--pin", dir}, nil, &out, &errOut); code != 0 {
				t.Fatalf("enforce --pin: exit %d: %s", code, errOut.String())
			}
			progs, err := enforce.Attached(g.Path)
			if err != nil || len(progs) != 2 {
				t.Fatalf("attached after --pin: %v, %v", progs, err)
			}
			if err := os.Remove(g.Path); err != nil { // empty: rmdir removes it
				t.Fatal(err)
			}
			if remake {
				if err := os.Mkdir(g.Path, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			out.Reset()
			if code := Run([]string{"enforce", "--detach", "--cgroup", g.Path, "--pin", dir}, nil, &out, &errOut); code != 0 {
				t.Fatalf("enforce --detach after the cgroup was %s: exit %d: %s", name, code, errOut.String())
			}
			if !strings.Contains(out.String(), "detached the enforcement of removed cgroup id") {
				t.Errorf("--detach said %q, want it to name the removed cgroup", out.String())
			}
			left, _ := os.ReadDir(dir)
			for _, e := range left {
				if strings.HasPrefix(e.Name(), "flatline-") {
					t.Errorf("pins left: %s", e.Name())
				}
			}
			for _, p := range progs {
				if prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(p.ID)); err == nil {
					prog.Close()
					t.Errorf("program %d (%s) still loaded after --detach", p.ID, p.Name)
				}
			}
		})
	}
}

// TestIntegrationEnforceRefusals: enforce refuses the cgroup2 root
// without --whole-host, and a cgroup another enforce already runs on.
func TestIntegrationEnforceRefusals(t *testing.T) {
	g := needEnforce(t)
	root, err := cgroup2.Mount()
	if err != nil {
		t.Skip(err)
	}
	var out, errOut bytes.Buffer
	if code := Run([]string{"enforce", "--cgroup", root, "--timeout", "5s"}, nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "--whole-host") {
		t.Errorf("enforce on the cgroup2 root: exit %d, %q; want 2 and --whole-host named", code, errOut.String())
	}
	dir := t.TempDir()
	if err := syscall.Mount("bpf", dir, "bpf", 0, ""); err != nil {
		t.Skipf("mount bpffs: %v", err)
	}
	defer syscall.Unmount(dir, 0)
	if code := Run([]string{"enforce", "--cgroup", g.Path, "--timeout", "5s", "--pin", dir}, nil, &out, &errOut); code != 0 {
		t.Fatalf("enforce --pin: exit %d: %s", code, errOut.String())
	}
	defer Run([]string{"enforce", "--detach", "--cgroup", g.Path, "--pin", dir}, nil, &out, &errOut)
	errOut.Reset()
	if code := Run([]string{"enforce", "--cgroup", g.Path, "--timeout", "10s", "--pin", dir}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "already enforced") {
		t.Errorf("a second enforce on the same cgroup: exit %d, %q; want 1 and already enforced", code, errOut.String())
	}
	if progs, _ := enforce.Attached(g.Path); len(progs) != 2 {
		t.Errorf("after the refused run, %d programs attached, want the first run's 2", len(progs))
	}
}
