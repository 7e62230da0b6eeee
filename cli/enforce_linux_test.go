package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/cgroup2"
)

// cliHelperEnv makes TestCLIHelperProcess run the command line given in
// it (arguments separated by newlines), so that a test can signal a real
// flatline process.
const cliHelperEnv = "FLATLINE_CLI_HELPER"

func TestCLIHelperProcess(t *testing.T) {
	args := os.Getenv(cliHelperEnv)
	if args == "" {
		t.Skip("helper process for the enforce tests")
	}
	os.Exit(Run(strings.Split(args, "\n"), os.Stdin, os.Stdout, os.Stderr))
}

// flatlineCmd is the command line args run as a separate process.
func flatlineCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestCLIHelperProcess$")
	cmd.Env = append(os.Environ(), cliHelperEnv+"="+strings.Join(args, "\n"))
	return cmd
}

func needEnforce(t *testing.T) *cgroup2.Group {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups and load eBPF programs")
	}
	if _, err := cgroup2.Mount(); err != nil {
		t.Skipf("no cgroup2 mount: %v", err)
	}
	cgroup2.Sweep()
	g, err := cgroup2.New("cli")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
	})
	// Skip on a kernel without the hooks.
	e, err := enforce.Attach(g.Path, enforce.Options{})
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skipf("kernel: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	return g
}

// attachedTo lists what is attached to path ("apply/sock_ops
// guard/setsockopt"), and checks that bpftool, where installed, agrees.
func attachedTo(t *testing.T, path string) string {
	t.Helper()
	progs, err := enforce.Attached(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range progs {
		got = append(got, p.Name+"/"+p.Attach)
	}
	if bpftool, err := exec.LookPath("bpftool"); err == nil {
		out, err := exec.Command(bpftool, "cgroup", "show", path).CombinedOutput()
		if err != nil {
			t.Fatalf("bpftool: %v: %s", err, out)
		}
		var oracle []string
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) >= 4 && strings.HasPrefix(f[1], "cgroup_") {
				oracle = append(oracle, f[3]+"/"+strings.TrimPrefix(f[1], "cgroup_"))
			}
		}
		if strings.Join(oracle, " ") != strings.Join(got, " ") {
			t.Errorf("BPF_PROG_QUERY says %q, bpftool cgroup show says %q", got, oracle)
		}
	}
	return strings.Join(got, " ")
}

// TestIntegrationEnforceCLI: `flatline enforce` prints its JSON line once
// attached, and nothing stays attached after it ends by SIGINT, SIGTERM or
// SIGKILL.
func TestIntegrationEnforceCLI(t *testing.T) {
	g := needEnforce(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := flatlineCmd(t, "enforce", "--cgroup", g.Path, "--timeout", "5s", "--json")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			lines := make(chan string, 4)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			var ev enforceEvent
			select {
			case l := <-lines:
				if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Event != "enforcing" || ev.Settings == nil || ev.Settings.UserTimeout != 3600*time.Millisecond {
					t.Fatalf("first line %q (%v), want the enforcing event of a 5 s plan", l, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("no enforcing line within 30 s; stderr: %s", stderr.String())
			}
			if got := attachedTo(t, g.Path); got != "apply/sock_ops guard/setsockopt" {
				t.Fatalf("attached while enforcing: %q", got)
			}
			cmd.Process.Signal(sig)
			err = cmd.Wait()
			if sig != syscall.SIGKILL && err != nil {
				t.Errorf("after %v: %v; stderr: %s", sig, err, stderr.String())
			}
			if sig != syscall.SIGKILL {
				l := <-lines
				if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Event != "detached" || ev.Stats == nil {
					t.Errorf("last line %q, want the detached event with stats", l)
				}
			}
			if got := attachedTo(t, g.Path); got != "" {
				t.Errorf("after %v, still attached: %s", sig, got)
			}
		})
	}
}

// TestIntegrationEnforceCLIPin: --pin leaves the programs attached after
// the process ends; --detach removes them.
func TestIntegrationEnforceCLIPin(t *testing.T) {
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
	if !strings.HasPrefix(out.String(), "enforcing 5s on ") {
		t.Errorf("output %q", out.String())
	}
	if got := attachedTo(t, g.Path); got != "apply/sock_ops guard/setsockopt" {
		t.Fatalf("attached after a pinned run: %q", got)
	}
	out.Reset()
	if code := Run([]string{"enforce", "--detach", "--cgroup", g.Path, "--pin", dir}, nil, &out, &errOut); code != 0 {
		t.Fatalf("enforce --detach: exit %d: %s", code, errOut.String())
	}
	if got := attachedTo(t, g.Path); got != "" {
		t.Errorf("after --detach, still attached: %s", got)
	}
	if code := Run([]string{"enforce", "--detach", "--cgroup", g.Path, "--pin", dir}, nil, &out, &errOut); code != 1 {
		t.Errorf("a second --detach: exit %d, want 1", code)
	}
}

// TestIntegrationEnforceBadInput: a clear error, a non-zero exit, nothing
// attached.
func TestIntegrationEnforceBadInput(t *testing.T) {
	g := needEnforce(t)
	file := t.TempDir() + "/f"
	os.WriteFile(file, nil, 0o600)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"enforce"}, 2, "needs --cgroup"},
		{[]string{"enforce", "--cgroup", t.TempDir()}, 2, "not a cgroup v2 directory"},
		{[]string{"enforce", "--cgroup", file}, 2, "not a cgroup v2 directory"},
		{[]string{"enforce", "--cgroup", g.Path, "--timeout", "1s"}, 2, "timeout"},
		{[]string{"enforce", "--cgroup", g.Path, "--pin", t.TempDir()}, 1, "not on a bpffs mount"},
		{[]string{"apply"}, 2, "needs --pid"},
		{[]string{"apply", "--pid", strconv.Itoa(1 << 23)}, 2, "no process"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := Run(tt.args, nil, &out, &errOut)
		if code != tt.code || !strings.Contains(strings.ToLower(errOut.String()), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut.String(), tt.code, tt.want)
		}
	}
	// Without privilege: a copy of this binary nobody may run.
	dir, err := os.MkdirTemp("", "flt-cli-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	exe, _ := os.Executable()
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/flatline.test", b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := flatlineCmd(t, "enforce", "--cgroup", g.Path)
	cmd.Path = dir + "/flatline.test"
	cmd.Args[0] = cmd.Path
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "not permitted") {
		t.Errorf("enforce as nobody: %v: %s; want exit 1 and not permitted", err, out)
	}
	// apply as nobody on a process of root's (this one).
	cmd = flatlineCmd(t, "apply", "--pid", strconv.Itoa(os.Getpid()))
	cmd.Path = dir + "/flatline.test"
	cmd.Args[0] = cmd.Path
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err = cmd.CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "run as root") {
		t.Errorf("apply as nobody: %v: %s; want exit 1 and run as root", err, out)
	}
	if got := attachedTo(t, g.Path); got != "" {
		t.Errorf("after the bad inputs, attached: %s", got)
	}
}

// TestIntegrationApplyCLI: `flatline apply --json` changes a Python
// program's socket (it sets no option of its own); --dry-run does not.
func TestIntegrationApplyCLI(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for pidfd_getfd on another process")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	cmd := exec.Command(py, "-c", `
import socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
print("ready", flush=True); sys.stdin.read()`)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	if l, _ := bufio.NewReader(stdout).ReadString('\n'); l != "ready\n" {
		t.Fatalf("python: %q", l)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	for _, dry := range []bool{true, false} {
		args := []string{"apply", "--pid", pid, "--timeout", "5s", "--json"}
		if dry {
			args = append(args, "--dry-run")
		}
		var out, errOut bytes.Buffer
		if code := Run(args, nil, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		var rep applyJSON
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Sockets) != 3 || rep.Failed != 0 {
			t.Fatalf("%v: %d sockets, %d failed; want 3 (listener, two ends), 0", args, len(rep.Sockets), rep.Failed)
		}
		for _, s := range rep.Sockets {
			if s.Before.KeepAlive || !s.After.KeepAlive || s.After.UserTimeout != 3600*time.Millisecond || s.Changed == dry {
				t.Errorf("%v: fd %d before %+v after %+v changed %v", args, s.FD, *s.Before, *s.After, s.Changed)
			}
			if s.WorstBefore.DeadlineS != nil || s.WorstAfter.DeadlineS == nil || *s.WorstAfter.DeadlineS > 5.5 {
				t.Errorf("%v: fd %d worst %v -> %v, want never -> within 5.5 s", args, s.FD, s.WorstBefore, s.WorstAfter)
			}
		}
	}
}
