package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// NetnsDir is where test namespaces are bind-mounted, as the lab's are.
const NetnsDir = kernel.NetNSDir

// nsPrefix is the lab's name prefix: a namespace left by a test process
// that died is swept by the next test or lab run.
const nsPrefix = "flt-"

var nsSeq atomic.Int64

// NetNS makes an empty network namespace for t, named
// flt-<pid>-t<n>-<role> under /run/netns so that `ip netns` and `ss -N`
// see it, and removes it when t ends, failed or not. It skips t when the
// process cannot make namespaces (not root). Stale namespaces of dead
// test processes are swept first.
func NetNS(t testing.TB, role string) (name, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN) to make a network namespace")
	}
	if _, err := kernel.SweepNetNS(NetnsDir, nsPrefix); err != nil {
		t.Logf("sweep stale namespaces: %v", err)
	}
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	name = fmt.Sprintf("%s%d-t%d-%s", nsPrefix, os.Getpid(), nsSeq.Add(1), role)
	path = filepath.Join(NetnsDir, name)
	if err := kernel.NewNetNS(path); err != nil {
		t.Skipf("cannot make a network namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := kernel.RemoveNetNS(path); err != nil {
			t.Errorf("remove namespace %s: %v", name, err)
		}
	})
	return name, path
}
