package vm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vmKernel is the kernel the VM tests boot: FLATLINE_VM_KERNEL, a version
// Fetch resolves (5.10, 6.1, 6.12) or a kernel image path. Unset, the
// tests skip: a boot under TCG takes seconds and a fetch downloads 100 MB.
func vmKernel(t *testing.T) Kernel {
	t.Helper()
	v := os.Getenv("FLATLINE_VM_KERNEL")
	if v == "" {
		t.Skip("set FLATLINE_VM_KERNEL=5.10|6.1|6.12|PATH to boot a kernel in qemu")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (the guest binary and apt's private configuration are set up as root)")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed")
	}
	var k Kernel
	var err error
	if strings.Contains(v, "/") {
		k, err = FromPath(v, "")
	} else {
		k, err = Fetch(context.Background(), v, DefaultCacheDir, AptDir, testLog{t})
	}
	if err != nil {
		t.Fatalf("kernel %s: %v", v, err)
	}
	return k
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestIntegrationVMBoot boots the kernel, loads the lab's modules and runs
// a shell command: the guest's release must be the kernel's, the command's
// output and exit status must come back, and no qemu may be left.
func TestIntegrationVMBoot(t *testing.T) {
	k := vmKernel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := Run(ctx, Guest{
		Kernel:  k,
		Command: []string{"sh", "-c", "uname -r; ls /sys/module | grep -c . ; exit 3"},
	}, t.TempDir())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("%s guest %s in %v, stdout %q", out.Accel, out.Release, out.Elapsed.Round(time.Millisecond), out.Stdout)
	if out.Release != k.Release {
		t.Errorf("guest release %q, want %q", out.Release, k.Release)
	}
	if got := strings.SplitN(string(out.Stdout), "\n", 2)[0]; strings.TrimSpace(got) != k.Release {
		t.Errorf("uname -r in the guest said %q, want %q", got, k.Release)
	}
	if out.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", out.ExitCode)
	}
	if strings.Contains(string(out.Console), "insmod") {
		t.Errorf("a module failed to load:\n%s", out.Console)
	}
	assertNoQemu(t)
}

// assertNoQemu fails if a qemu process whose parent is this test is left.
func assertNoQemu(t *testing.T) {
	t.Helper()
	pids, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := os.Getpid()
	for _, p := range pids {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "qemu-system") {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == itoa(me) {
			t.Errorf("qemu left running: %s", strings.TrimSpace(s[:i+1]))
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestIntegrationVMCancel: a run whose context ends while the guest is
// busy returns the context's error and leaves no qemu behind.
func TestIntegrationVMCancel(t *testing.T) {
	k := vmKernel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, Guest{Kernel: k, Command: []string{"sleep", "600"}}, t.TempDir())
	if err == nil || ctx.Err() == nil {
		t.Fatalf("Run = %v after %v, want the context's error", err, time.Since(start))
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Run returned %v after the start, want soon after the 8 s deadline", d)
	}
	assertNoQemu(t)
}
