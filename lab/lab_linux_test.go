package lab

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

// TestIntegrationLabQuick runs the --quick matrix at T = 3 s and asserts the
// lesson of issue 3's Proof.
func TestIntegrationLabQuick(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if testing.Short() {
		t.Skip("the quick lab matrix takes about 35 s")
	}
	const T = 3 * time.Second
	cells, err := Matrix(true, "")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := Run(context.Background(), Options{Timeout: T, Cells: cells, Endpoint: testEndpoint(t), Enforce: testEnforce})
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("lab not supported here: %v", err)
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("%d cells in %v", len(res.Cells), time.Since(start).Round(time.Millisecond))
	if len(res.Cells) != len(cells) {
		t.Fatalf("Run returned %d cells, want %d", len(res.Cells), len(cells))
	}
	got := map[string]CellResult{}
	for _, c := range res.Cells {
		got[c.Cell().Name()] = c
	}
	cell := func(name string) CellResult {
		t.Helper()
		c, ok := got[name]
		if !ok {
			t.Fatalf("the quick matrix has no cell %s", name)
		}
		return c
	}
	plan, err := flatline.Config{Timeout: T}.Plan()
	if err != nil {
		t.Fatal(err)
	}

	// Behind a middlebox that forgets idle flows after MiddleboxTimeout
	// (10 s), Go's default dialer (keepalive idle 15 s) loses its idle
	// connection, and flatline's keepalive keeps it.
	for name, want := range map[string]Verdict{
		"idle/middlebox-expiry/go-default": Lost,
		"idle/middlebox-expiry/flatline":   Survived,
	} {
		if c := cell(name); c.Verdict != want {
			t.Errorf("%s: verdict %s (%s), want %s", name, c.Verdict, c.Error, want)
		}
	}

	// flatline detects within its plan for idle, sending, receiving,
	// replication and connect under blackhole and link-down. Stated slack:
	// the plan's own Slack; for the sending state also one workload period
	// (the first unacknowledged write comes up to 50 ms after the fault) and
	// the connection's RTO above the 200 ms minimum the plan assumes (the
	// user timeout counts from the first retransmission, one RTO after that
	// write; a loaded machine inflates the RTO).
	for _, f := range []Fault{Blackhole, LinkDown} {
		for _, w := range []Workload{Idle, Sending, Receiving, Replication, Connect} {
			c := cell(Cell{w, f, Flatline}.Name())
			b := plan.Bound(w.State())
			deadline, _ := b.Deadline()
			var extra time.Duration
			if w.State() == flatline.StateSending {
				extra = period + max(0, time.Duration(c.RTOS*float64(time.Second))-200*time.Millisecond)
			}
			if c.DetectedS == nil {
				t.Errorf("%s: no error within %vs, plan promises %v", c.Cell().Name(), c.CapS, b)
				continue
			}
			d := time.Duration(*c.DetectedS * float64(time.Second))
			if d > deadline+extra {
				t.Errorf("%s: error after %v, plan promises %v (+%v stated slack; RTO before the fault %.3fs): %s",
					c.Cell().Name(), d.Round(time.Millisecond), b, extra, c.RTOS, c.Error)
			}
		}
	}

	// flatline survives the blip.
	for _, w := range []Workload{Idle, Sending} {
		if c := cell(Cell{w, Blip, Flatline}.Name()); c.Verdict != Survived {
			t.Errorf("%s: verdict %s (%s), want %s", c.Cell().Name(), c.Verdict, c.Error, Survived)
		}
	}

	// keepalive-only detects the idle blackhole but not the sending one.
	if c := cell("idle/blackhole/keepalive-only"); c.Verdict != InTime || c.DetectedS == nil || *c.DetectedS > (T+200*time.Millisecond).Seconds() {
		t.Errorf("%s: verdict %s after %v s, want %s within T + 200 ms", c.Cell().Name(), c.Verdict, fmtPtr(c.DetectedS), InTime)
	}
	if c := cell("sending/blackhole/keepalive-only"); c.Verdict != Never {
		t.Errorf("%s: verdict %s after %v s (%s), want %s", c.Cell().Name(), c.Verdict, fmtPtr(c.DetectedS), c.Error, Never)
	}

	// go-default detects neither the idle nor the sending blackhole.
	for _, name := range []string{"idle/blackhole/go-default", "sending/blackhole/go-default"} {
		if c := cell(name); c.Verdict != Never {
			t.Errorf("%s: verdict %s after %v s (%s), want %s within the %v s cap", name, c.Verdict, fmtPtr(c.DetectedS), c.Error, Never, c.CapS)
		}
	}

	// peer-frozen: kernel settings alone never notice, except through the
	// closed-window rule (a user timeout and a window that stays closed).
	for _, cfg := range []ConfigName{Flatline, KeepaliveOnly} {
		if c := cell(Cell{Idle, PeerFrozen, cfg}.Name()); c.DetectedS != nil || c.ExpectedS != nil {
			t.Errorf("%s: detected %v s, expected %v s; want never and never", c.Cell().Name(), fmtPtr(c.DetectedS), fmtPtr(c.ExpectedS))
		}
	}
	if c := cell("zero-window/peer-frozen/flatline"); c.DetectedS == nil || c.Cause != flatline.CauseClosedWindow.String() {
		t.Errorf("zero-window/peer-frozen/flatline: detected %v s, cause %q; want detected, cause %q", fmtPtr(c.DetectedS), c.Cause, flatline.CauseClosedWindow)
	}
	if c := cell("zero-window/peer-frozen/keepalive-only"); c.DetectedS != nil {
		t.Errorf("zero-window/peer-frozen/keepalive-only: detected after %v s (%s), want never: no user timeout", fmtPtr(c.DetectedS), c.Error)
	}
	checkHeartbeatCells(t, cell)
	var table bytes.Buffer
	if err := WriteTable(&table, res); err != nil {
		t.Fatalf("WriteTable: %v", err)
	}
	for _, want := range []string{"server process stopped (SIGSTOP): its kernel still answers", "only a closed window"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table does not say %q:\n%s", want, table.String())
		}
	}

	// Nothing of this run is left.
	left, _ := filepath.Glob(filepath.Join(NetnsDir, Prefix+strconv.Itoa(os.Getpid())+"-*"))
	if len(left) > 0 {
		t.Errorf("left in %s after Run: %v", NetnsDir, left)
	}
	if t.Failed() {
		t.Logf("table:\n%s", table.String())
	}
}

func fmtPtr(p *float64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}

// TestIntegrationLabCancel cancels a run while its cells are being built
// and measured (as SIGINT does in the CLI) and checks that nothing of it is
// left.
func TestIntegrationLabCancel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	cells, err := Matrix(false, "/blackhole/")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = Run(ctx, Options{Timeout: 3 * time.Second, Cells: cells, Endpoint: testEndpoint(t)})
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("lab not supported here: %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run after cancel: %v, want context.DeadlineExceeded", err)
	}
	// Cells stop at once: well before their 30 s cap.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run returned %v after start, want within 10 s of a 2 s cancel", d)
	}
	left, _ := filepath.Glob(filepath.Join(NetnsDir, Prefix+strconv.Itoa(os.Getpid())+"-*"))
	if len(left) > 0 {
		t.Errorf("left in %s after a canceled Run: %v", NetnsDir, left)
	}
}
