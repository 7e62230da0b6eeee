package exporter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
	"golang.org/x/sys/unix"
)

// TestIntegrationRecycledNamespaceInode: a namespace dies after 7 deaths
// and the kernel gives its inode to the next namespace made; that one
// shows no deaths, and flatline_netns_info names it.
func TestIntegrationRecycledNamespaceInode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make network namespaces")
	}
	dir := t.TempDir()
	e, err := New(Config{ProcRoot: t.TempDir(), NetNSDir: dir}) // only the named namespaces
	if err != nil {
		t.Fatal(err)
	}
	inode := func(p string) uint64 {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	mk := func(name string) (string, uint64) {
		p := filepath.Join(dir, name)
		if err := kernel.NewNetNS(p); err != nil {
			t.Skipf("cannot make a network namespace: %v", err)
		}
		t.Cleanup(func() { kernel.RemoveNetNS(p) })
		return p, inode(p)
	}
	old, ino := mk("old")
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := nsID(ino)
	for range 7 {
		e.RecordDeath(Death{Cause: flatline.CauseReset, NetNS: ino})
	}
	if got := deathCounts(t, e)[id+" reset"]; got != 7 {
		t.Fatalf("%s reset deaths = %v, want 7", id, got)
	}
	if err := kernel.RemoveNetNS(old); err != nil {
		t.Fatal(err)
	}
	// The inode is free once the kernel's cleanup work has freed the
	// namespace; the next namespace made then takes the lowest free one,
	// unless another process takes it first. Namespaces made meanwhile
	// that got another inode are removed again.
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		p, n := mk(fmt.Sprintf("new%d", i))
		if n == ino {
			break
		}
		if err := kernel.RemoveNetNS(p); err != nil {
			t.Fatal(err)
		}
		select {
		case <-deadline:
			t.Skipf("the kernel did not give inode %d to a new namespace within 30 s (others are being made on this host)", ino)
		case <-tick.C:
		}
	}
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := deathCounts(t, e)
	for _, c := range kernelCauses() {
		if v, ok := got[id+" "+c.String()]; !ok || v != 0 {
			t.Errorf("new namespace with inode %d: %s deaths = %v (served %v), want 0", ino, c, v, ok)
		}
	}
}

// BenchmarkNamespaceCookies measures what telling recycled inodes apart
// costs a scan: reading SO_NETNS_COOKIE of every namespace of the host
// (enter, open a socket, read, leave). Compare with RefreshNamespaces on
// the same run:
//
//	go test ./exporter -run '^$' -bench 'NamespaceCookies|RefreshNamespaces' -benchtime 5x
func BenchmarkNamespaceCookies(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to enter namespaces")
	}
	d, err := Discover(DefaultProcRoot, DefaultNetNSDir)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		fillCookies(d.Namespaces)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*max(1, len(d.Namespaces))), "µs/namespace")
	b.ReportMetric(float64(len(d.Namespaces)), "namespaces")
}
