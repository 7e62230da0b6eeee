package flatline

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPlanOpensNoFile traces 50 calls each of Config.Plan, Config.Validate,
// Config.PlanFor and Config.ValidateFor with strace (when installed) and
// fails on any file they open: a plan is a pure function of its inputs.
// The calls run in a re-executed test binary between two marker opens.
func TestPlanOpensNoFile(t *testing.T) {
	if os.Getenv("FLATLINE_PLAN_CALLS") == "1" {
		planCalls()
		return
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace not installed: cannot trace the calls' file opens")
	}
	out := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(strace, "-f", "-qq", "-e", "trace=open,openat,openat2", "-e", "signal=none", "-o", out,
		os.Args[0], "-test.run=^TestPlanOpensNoFile$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FLATLINE_PLAN_CALLS=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(b), "ptrace") || strings.Contains(string(b), "Operation not permitted") {
			t.Skipf("strace cannot trace here: %s", b)
		}
		t.Fatalf("traced run: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var between []string
	in, sawEnd := false, false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.Contains(line, planMarkerBegin):
			in = true
		case strings.Contains(line, planMarkerEnd):
			in, sawEnd = false, true
		case in && strings.Contains(line, "open"):
			between = append(between, line)
		}
	}
	if !sawEnd {
		t.Fatalf("the traced run never reached its end marker; trace:\n%s", b)
	}
	if len(between) != 0 {
		t.Errorf("50 calls of Plan, Validate, PlanFor and ValidateFor opened files:\n%s", strings.Join(between, "\n"))
	}
}

const (
	planMarkerBegin = "/flatline-plan-calls-begin"
	planMarkerEnd   = "/flatline-plan-calls-end"
)

func planCalls() {
	os.Open(planMarkerBegin) // fails: a marker in the trace
	h := LinuxDefaults()
	h.HZ, h.Kernel = 250, "5.10.0-32-amd64 (5.10.223)"
	for i := range 50 {
		c := Config{Timeout: time.Duration(3+i) * time.Second}
		c.Plan()
		c.Validate()
		c.PlanFor(h)
		c.ValidateFor(h)
	}
	os.Open(planMarkerEnd)
}
