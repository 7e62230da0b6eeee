package diag

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/flatline-dev/flatline"
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
