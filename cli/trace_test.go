package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/flatline-dev/flatline/trace"
)

func TestTraceUsage(t *testing.T) {
	for _, args := range [][]string{
		{"trace", "--pid", "-1"},
		{"trace", "extra"},
		{"trace", "--count", "-1"},
	} {
		var out, errOut bytes.Buffer
		if code := Run(args, nil, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errOut.String())
		}
	}
}

// TestTraceBadFilters: a process that does not exist, a file that is not
// a network namespace and a directory that is not a cgroup v2 one are
// refused at once, in one line, before anything is loaded.
func TestTraceBadFilters(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Skip(err)
	}
	file := t.TempDir() + "/netns"
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	noPID := strings.TrimSpace(string(b)) + "0"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pid", noPID}, "pid " + noPID + ": no such process"},
		{[]string{"--netns", file}, "not a network namespace"},
		{[]string{"--netns", "/proc/self/ns/uts"}, "not a network namespace"},
		{[]string{"--cgroup", t.TempDir()}, "not a directory of the cgroup v2 hierarchy"},
		{[]string{"--cgroup", "/"}, "not a directory of the cgroup v2 hierarchy"},
	} {
		var out, errOut bytes.Buffer
		code := Run(append([]string{"trace"}, tc.args...), nil, &out, &errOut)
		if code == 0 || !strings.Contains(errOut.String(), tc.want) || strings.Count(errOut.String(), "\n") != 1 {
			t.Errorf("trace %q: exit %d, stderr %q; want non-zero and one line with %q", tc.args, code, errOut.String(), tc.want)
		}
	}
}

// bpfFDs lists this process's file descriptors on BPF programs, links and
// maps: once trace returns there must be none, or something stayed loaded.
func bpfFDs(t *testing.T) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var bpf []string
	for _, fd := range fds {
		l, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(l, "anon_inode:bpf") {
			bpf = append(bpf, fd.Name()+" -> "+l)
		}
	}
	return bpf
}

// TestIntegrationTraceDuration: trace ended by its deadline (the path an
// interrupt takes too: the command's context ends) exits 0 and leaves
// nothing loaded.
func TestIntegrationTraceDuration(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads BPF programs")
	}
	if err := traceSupported(); err != nil {
		t.Skip(err)
	}
	var out, errOut bytes.Buffer
	if code := Run([]string{"trace", "--duration", "300ms"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "tracing") {
		t.Errorf("stderr %q has no tracing line", errOut.String())
	}
	if fds := bpfFDs(t); len(fds) > 0 {
		t.Errorf("BPF objects still open after trace returned: %v", fds)
	}
}

// traceSupported reports whether this kernel runs the tracer.
func traceSupported() error {
	tr, err := trace.New(trace.Options{})
	if err == nil {
		tr.Close()
	}
	return err
}

// TestTraceLineHostileComm: a process name with an escape sequence and
// bytes that are not UTF-8 reaches the terminal harmless.
func TestTraceLineHostileComm(t *testing.T) {
	line := eventLine(trace.Event{PID: 7, Comm: "\x1b[2J\xff\xfebad"})
	if strings.ContainsAny(line, "\x1b") || !strings.Contains(line, "pid 7 (?[2J\uFFFDbad)") {
		t.Errorf("eventLine = %q", line)
	}
}
