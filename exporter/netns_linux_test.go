package exporter

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestDiscoverFixture builds a /proc of regular files: pids whose ns/net
// are hard links of one file share a namespace, as processes whose links
// resolve to one nsfs inode do.
func TestDiscoverFixture(t *testing.T) {
	root := t.TempDir()
	mk := func(pid int, comm string) string {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, "ns", "net")
	}
	hostNS := mk(1, "init")
	if err := os.WriteFile(hostNS, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{2, 10, 11, 12} { // 12: more than maxPaths processes
		if err := os.Link(hostNS, mk(pid, "kthread-like")); err != nil {
			t.Fatal(err)
		}
	}
	podNS := mk(30, "pause")
	if err := os.WriteFile(podNS, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(podNS, mk(31, "app")); err != nil {
		t.Fatal(err)
	}
	mk(40, "exited") // no ns/net: exited, or a kernel thread: skipped
	if err := os.MkdirAll(filepath.Join(root, "self"), 0o755); err != nil {
		t.Fatal(err)
	}

	d, err := Discover(root, "")
	if err != nil {
		t.Fatal(err)
	}
	ino := func(p string) uint64 {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	want := []Namespace{
		{ID: nsID(ino(hostNS)), Inode: ino(hostNS), PID: 1, Comm: "init", PIDs: []int{1, 2, 10, 11, 12},
			Paths: []string{hostNS, filepath.Join(root, "2/ns/net"), filepath.Join(root, "10/ns/net")}},
		{ID: nsID(ino(podNS)), Inode: ino(podNS), PID: 30, Comm: "pause", PIDs: []int{30, 31},
			Paths: []string{podNS, filepath.Join(root, "31/ns/net")}},
	}
	if want[0].Inode > want[1].Inode {
		want[0], want[1] = want[1], want[0]
	}
	if d := cmp.Diff(Discovery{Namespaces: want}, d); d != "" {
		t.Errorf("Discover (-want +got):\n%s", d)
	}
}

func TestDiscoverFindsOwnNamespace(t *testing.T) {
	d, err := Discover("/proc", DefaultNetNSDir)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	for _, ns := range d.Namespaces {
		if ns.Inode == st.Ino {
			if !slices.Contains(ns.PIDs, os.Getpid()) || len(ns.Paths) == 0 {
				t.Errorf("own namespace found with processes %v (not this one, %d) and paths %v", ns.PIDs, os.Getpid(), ns.Paths)
			}
			return
		}
	}
	t.Errorf("own namespace %s not among the %d found", nsID(st.Ino), len(d.Namespaces))
}

func TestDiscoverMissingProc(t *testing.T) {
	if _, err := Discover(filepath.Join(t.TempDir(), "nope"), ""); err == nil {
		t.Error("Discover of a missing /proc: no error")
	}
}

// TestRefreshSeesOwnNamespace scans the live host (as whoever runs the
// test: without root, other namespaces are counted as not covered) and
// finds this process's namespace scanned, with a socket of this process
// in it.
func TestRefreshSeesOwnNamespace(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Skipf("no loopback here: %v", err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	e, err := New(Config{TopProcesses: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	snap := e.snap.Load()
	if !snap.ok {
		t.Fatal("scan not ok")
	}
	found := false
	for _, n := range snap.namespaces {
		if n.ns.Inode == st.Ino {
			found = n.scanned
		}
	}
	if !found {
		t.Errorf("own namespace %s not scanned", nsID(st.Ino))
	}
	self := strconv.Itoa(os.Getpid())
	for _, p := range snap.procs {
		if p.pid == self {
			if p.sockets < 2 {
				t.Errorf("this process holds %d sockets in the scan, want at least its 2 connection ends", p.sockets)
			}
			return
		}
	}
	t.Errorf("this process (pid %s) not among the %d process rows", self, len(snap.procs))
}
