package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
)

// TestApplyDryRunCount: a dry run counts the sockets it lists with new
// settings, not the (zero) sockets it set.
func TestApplyDryRunCount(t *testing.T) {
	before := &flatline.Settings{KeepAlive: true, Idle: 2 * time.Hour, Interval: 75 * time.Second, Count: 9}
	after := &flatline.Settings{KeepAlive: true, Idle: 8 * time.Second, Interval: 5 * time.Second, Count: 3, UserTimeout: 23 * time.Second}
	r := &enforce.ApplyReport{PID: 7, Comm: "db", DryRun: true, Sockets: []enforce.AppliedSocket{
		{FD: 3, Before: before, After: after},
		{FD: 4, Before: after, After: after}, // already as planned
	}}
	var out bytes.Buffer
	if err := writeApply(&out, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1 sockets would change (dry run), 0 failed") {
		t.Errorf("dry run summary:\n%s\nwant 1 socket that would change", out.String())
	}
	if j := newApplyJSON(r); j.Changed != 1 {
		t.Errorf("JSON changed = %d, want 1", j.Changed)
	}
}
