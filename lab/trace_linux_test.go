package lab_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/lab"
	"github.com/flatline-dev/flatline/trace"
)

// agreementCells are lab cells where the client's connection dies, one per
// cause the tracer tells apart (flatline configuration, T = 3 s), and one
// ended by TCP_KEEPCNT rather than a user timeout.
var agreementCells = []lab.Cell{
	{Workload: lab.Idle, Fault: lab.Blackhole, Config: lab.Flatline},
	{Workload: lab.Sending, Fault: lab.Blackhole, Config: lab.Flatline},
	{Workload: lab.Receiving, Fault: lab.Blackhole, Config: lab.Flatline},
	{Workload: lab.ZeroWindow, Fault: lab.PeerFrozen, Config: lab.Flatline},
	{Workload: lab.Idle, Fault: lab.Reset, Config: lab.Flatline},
	{Workload: lab.Connect, Fault: lab.Blackhole, Config: lab.Flatline},
	{Workload: lab.Sending, Fault: lab.LinkDown, Config: lab.Flatline},
	{Workload: lab.Idle, Fault: lab.Blackhole, Config: lab.KeepaliveOnly},
	{Workload: lab.Replication, Fault: lab.PeerReboot, Config: lab.Flatline},
}

// TestIntegrationTraceAgreesWithLab (here rather than in trace, whose
// tests then need no lab) runs lab cells one at a time while the
// tracer watches this process (the lab's client side runs here; its
// server endpoints are other processes), and checks that for every cell
// whose client connection died, the tracer's cause for the deaths in that
// cell's time is the cause the lab's own Diagnose gave. Mismatches are
// listed with the tracer's event and the application's error.
func TestIntegrationTraceAgreesWithLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root")
	}
	tr, err := trace.New(trace.Options{PID: os.Getpid()})
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		mu     sync.Mutex
		events []trace.Event
	)
	readDone := make(chan struct{})
	newEvent := make(chan struct{}, 1)
	go func() {
		defer close(readDone)
		for {
			e, err := tr.Read(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
			select {
			case newEvent <- struct{}{}:
			default:
			}
		}
	}()
	res, err := lab.Run(ctx, lab.Options{
		Timeout:  3 * time.Second,
		Cells:    agreementCells,
		Cap:      12 * time.Second,
		Parallel: 1,
		Endpoint: []string{exe},
	})
	if errors.Is(err, lab.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Every death was in the ring buffer before the lab saw its error:
	// wait, bounded, until the reader has taken one per dead cell.
	dead := 0
	for _, c := range res.Cells {
		if c.DetectedS != nil && isDeath(c.Cause) {
			dead++
		}
	}
	for deadline := time.Now().Add(2 * time.Second); ; {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= dead || time.Now().After(deadline) {
			break
		}
		select {
		case <-newEvent:
		case <-time.After(time.Until(deadline)):
		}
	}
	cancel()
	<-readDone
	mu.Lock()
	defer mu.Unlock()
	if n, err := tr.Lost(); err != nil || n > 0 {
		t.Errorf("lost events: %d, %v", n, err)
	}

	// Cells run one at a time, but the results come back in the matrix's
	// order: a cell's death is found by the local address in the lab's
	// error ("read tcp LOCAL->REMOTE: ..."), or for a dial by the
	// connection that died in SYN-SENT; each cell has namespaces of its
	// own, so among equal addresses the closest in time wins.
	var mismatches []string
	for _, c := range res.Cells {
		if c.DetectedS == nil || !isDeath(c.Cause) {
			t.Logf("%s: no death to compare (lab: %q, %s)", c.Cell().Name(), c.Cause, c.Error)
			continue
		}
		local := localOf(c.Error)
		if local == "" && c.Workload != lab.Connect {
			local = c.Local // an io.EOF names no address
		}
		var match *trace.Event
		for k := range events {
			e := &events[k]
			ok := local != "" && e.Local.String() == local || local == "" && c.Workload == lab.Connect && e.State == "syn-sent"
			if ok && (match == nil || e.Time.After(match.Time) == (c.Workload == lab.Connect)) {
				match = e
			}
		}
		if match == nil {
			mismatches = append(mismatches, fmt.Sprintf("%s: lab says %s (%s); the tracer saw no death of %q", c.Cell().Name(), c.Cause, c.Error, local))
			continue
		}
		e := *match
		if e.Cause.String() != c.Cause {
			mismatches = append(mismatches, fmt.Sprintf("%s: lab says %s (%s); trace says %s\n\t%s", c.Cell().Name(), c.Cause, c.Error, e.Cause, eventJSON(e)))
			continue
		}
		t.Logf("%s: both say %s (%s, limit %q, %d retransmits, %d probes, peer silent %v)", c.Cell().Name(), c.Cause, e.ErrnoName(), e.Limit, e.Retransmits, e.Probes, e.Silent)
	}
	if len(mismatches) > 0 {
		t.Errorf("%d mismatches:\n%s", len(mismatches), strings.Join(mismatches, "\n"))
	}
}

// localOf returns LOCAL from an error of Go's net package that reads
// "op tcp LOCAL->REMOTE: ...", or "".
func localOf(err string) string {
	_, rest, ok := strings.Cut(err, " tcp ")
	if !ok {
		return ""
	}
	local, _, ok := strings.Cut(rest, "->")
	if !ok {
		return ""
	}
	return local
}

// isDeath reports whether a lab cause names a connection the kernel
// ended (the tracer sees only those).
func isDeath(cause string) bool {
	switch cause {
	case "keepalive", "unacked-data", "closed-window", "reset", "unreachable", "connect-timeout", "refused", "kernel-timeout":
		return true
	}
	return false
}

func eventJSON(e trace.Event) string {
	b, err := e.MarshalJSON()
	if err != nil {
		return err.Error()
	}
	return string(b)
}
