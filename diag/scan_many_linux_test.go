package diag

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/bpfiter"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

// TestIntegrationScanNamespaces: one pass over three namespaces (holding
// 0, 30 and 70 loopback connections) and a missing one finds, in each,
// what Scan finds there alone: the same sockets with the same owners,
// options and verdicts; the missing one's error matches fs.ErrNotExist.
func TestIntegrationScanNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces")
	}
	var names []string
	for _, n := range []int{0, 30, 70} {
		name, path := testutil.NetNS(t, "many")
		if n > 0 {
			testutil.HoldConnections(t, path, n)
		}
		names = append(names, name)
	}
	paths := append(names, "flatline-test-no-such-namespace")
	reports, errs := ScanNamespaces(context.Background(), Options{}, paths)
	if !errors.Is(errs[3], fs.ErrNotExist) {
		t.Errorf("missing namespace: error %v, want one matching fs.ErrNotExist", errs[3])
	}
	type view struct {
		Local, Remote string
		PID           int
		Comm          string
		Settings      flatline.Settings
		Verdict       Verdict
	}
	viewOf := func(r *Report) map[string]view {
		m := map[string]view{}
		for _, s := range r.Sockets {
			v := view{Local: s.Local.String(), Remote: s.Remote.String(), Verdict: s.Verdict}
			if o, ok := s.Owner(); ok {
				v.PID, v.Comm = o.PID, o.Comm
			}
			if s.Settings != nil {
				v.Settings = *s.Settings
			}
			m[v.Local+" "+v.Remote] = v
		}
		return m
	}
	for i, name := range names {
		if errs[i] != nil {
			t.Fatalf("%s: %v", name, errs[i])
		}
		alone, err := Scan(context.Background(), Options{NetNS: name})
		if err != nil {
			t.Fatal(err)
		}
		if want := 2 * []int{0, 30, 70}[i]; len(reports[i].Sockets) != want {
			t.Errorf("%s: %d sockets, want %d", name, len(reports[i].Sockets), want)
		}
		if diff := cmp.Diff(viewOf(alone), viewOf(reports[i])); diff != "" {
			t.Errorf("%s: one pass differs from Scan alone (-alone +one pass):\n%s", name, diff)
		}
		for _, s := range reports[i].Sockets {
			if _, ok := s.Owner(); !ok || s.Settings == nil {
				t.Errorf("%s: socket %v–%v without owner or options (%v)", name, s.Local, s.Remote, s.OptionsErr)
				break
			}
		}
		if reports[i].Namespace != name {
			t.Errorf("report %d names %q, want %q", i, reports[i].Namespace, name)
		}
	}
}

// TestIntegrationScanNamespacesOneWalk: where the BPF iterators load, the
// one pass reads each namespace's sockets in one walk, the socket
// iterator's, with no inet_diag dump; and what it finds is what the same
// pass finds when made to dump (States with TIME-WAIT, which only
// inet_diag reports): the same sockets, states, timers, queues, owners,
// options and verdicts, and worst cases apart by no more than the time
// between the two passes (plus 20 ms: two ticks at HZ=100).
func TestIntegrationScanNamespacesOneWalk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces")
	}
	progs, err := bpfiter.Load()
	if err != nil {
		t.Skipf("BPF iterators do not load here (%v): every pass dumps", err)
	}
	progs.Close()
	var names []string
	for _, n := range []int{30, 70} {
		name, path := testutil.NetNS(t, "walk")
		testutil.HoldConnections(t, path, n)
		names = append(names, name)
	}
	ctx := context.Background()
	start := time.Now()
	walked, errs := ScanNamespaces(ctx, Options{}, names)
	dumped, dumpErrs := ScanNamespaces(ctx, Options{States: DefaultStates | 1<<StateTimeWait}, names)
	slack := time.Since(start) + 20*time.Millisecond
	type view struct {
		State                         TCPState
		Timer                         Timer
		RQueue, WQueue, UID           uint32
		Inode                         uint64
		Shutdown                      int
		Unacked, SndWnd, NotsentBytes uint32
		PID                           int
		Comm                          string
		Settings                      flatline.Settings
		Traffic                       flatline.State
		Known, Never, RiskKnown       bool
		LostProbes                    int
		Verdict                       Verdict
	}
	viewOf := func(r *Report) (map[string]view, map[string]time.Duration) {
		m, worst := map[string]view{}, map[string]time.Duration{}
		for _, s := range r.Sockets {
			if s.State == StateTimeWait {
				continue // only the dump sees them
			}
			v := view{State: s.State, Timer: s.Timer, RQueue: s.RQueue, WQueue: s.WQueue, UID: s.UID, Inode: s.Inode,
				Shutdown: s.Shutdown, Traffic: s.Traffic, Known: s.Known, Never: s.Never, RiskKnown: s.RiskKnown,
				LostProbes: s.LostProbes, Verdict: s.Verdict}
			if s.Info != nil {
				v.Unacked, v.SndWnd, v.NotsentBytes = s.Info.Unacked, s.Info.SndWnd, s.Info.NotsentBytes
			}
			if o, ok := s.Owner(); ok {
				v.PID, v.Comm = o.PID, o.Comm
			}
			if s.Settings != nil {
				v.Settings = *s.Settings
			}
			key := s.Local.String() + " " + s.Remote.String()
			m[key], worst[key] = v, s.Worst
		}
		return m, worst
	}
	for i, name := range names {
		if errs[i] != nil || dumpErrs[i] != nil {
			t.Fatalf("%s: one walk: %v; dump: %v", name, errs[i], dumpErrs[i])
		}
		if walked[i].dumped {
			t.Errorf("%s: the one pass dumped the sockets with inet_diag: the iterator's walk should have stood in (notes %q)", name, walked[i].Notes)
		}
		if !dumped[i].dumped {
			t.Errorf("%s: a pass asking for TIME-WAIT did not dump: the iterator does not see TIME-WAIT sockets", name)
		}
		w, ww := viewOf(walked[i])
		d, dw := viewOf(dumped[i])
		if diff := cmp.Diff(d, w); diff != "" {
			t.Errorf("%s: the iterator's walk differs from the dump (-dump +walk):\n%s", name, diff)
		}
		for k, a := range ww {
			if b, ok := dw[k]; ok && (a-b > slack || b-a > slack) {
				t.Errorf("%s: %s: worst case %v from the walk, %v from the dump (slack %v)", name, k, a, b, slack)
			}
		}
	}
}
