package trace

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flatline-dev/flatline/internal/cgroup2"

	"golang.org/x/sys/unix"
)

func TestFilter(t *testing.T) {
	selfNS, err := inode("/proc/self/ns/net")
	if err != nil {
		t.Skip(err)
	}
	tests := []struct {
		name string
		o    Options
		e    Event
		keep bool
	}{
		{"zero options keep all", Options{}, Event{PID: 7}, true},
		{"pid kept", Options{PID: os.Getpid()}, Event{PID: os.Getpid()}, true},
		{"pid dropped", Options{PID: os.Getpid()}, Event{PID: os.Getpid() + 1}, false},
		{"pid unknown dropped", Options{PID: os.Getpid()}, Event{}, false},
		{"netns kept", Options{NetNSPath: "/proc/self/ns/net"}, Event{NetNS: uint32(selfNS)}, true},
		{"netns dropped", Options{NetNSPath: "/proc/self/ns/net"}, Event{NetNS: uint32(selfNS) + 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := newFilter(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			defer f.close()
			if got := f.keep(tt.e); got != tt.keep {
				t.Errorf("keep = %v, want %v", got, tt.keep)
			}
		})
	}
}

// TestFilterCgroup: a cgroup v2 directory keeps the events of it and of
// the cgroups below it (made before or after the filter), and drops
// those elsewhere, the root's included.
func TestFilterCgroup(t *testing.T) {
	needRoot(t)
	g, err := cgroup2.New("filter")
	if errors.Is(err, cgroup2.ErrNoCgroup2) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Remove() }) // after the cgroups below it (cleanups run last first)
	other, err := cgroup2.New("filter-other")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Remove() })
	mkdir := func(p string) uint64 {
		t.Helper()
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(p) })
		id, err := inode(p)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	app := filepath.Join(g.Path, "app.slice")
	mkdir(app)
	subID := mkdir(filepath.Join(app, "db.service"))
	gID, _ := inode(g.Path)
	otherID, _ := inode(other.Path)
	mount, _ := cgroup2.Mount()
	rootID, _ := inode(mount)
	f, err := newFilter(Options{Cgroup: g.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	lateID := mkdir(filepath.Join(app, "late.scope"))
	for _, tc := range []struct {
		name string
		id   uint64
		keep bool
	}{
		{"itself", gID, true},
		{"below", subID, true},
		{"made after the filter", lateID, true},
		{"a sibling", otherID, false},
		{"the root", rootID, false},
		{"unknown", 0, false},
		{"no such cgroup", 1 << 62, false},
	} {
		if got := f.keep(Event{Cgroup: tc.id}); got != tc.keep {
			t.Errorf("%s (id %d): keep = %v, want %v", tc.name, tc.id, got, tc.keep)
		}
	}
}

func TestFilterBadInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	pidMax, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Skip(err)
	}
	noPID, _ := strconv.Atoi(strings.TrimSpace(string(pidMax)))
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{PID: -1}, "must be positive"},
		{Options{PID: noPID + 1}, "no such process"},
		{Options{NetNS: "a/b"}, "without '/'"},
		{Options{NetNS: "flt-no-such-namespace"}, "flt-no-such-namespace"},
		{Options{NetNS: "x", NetNSPath: "/proc/self/ns/net"}, "not both"},
		{Options{NetNSPath: file}, "not a network namespace"},
		{Options{NetNSPath: "/proc/self/ns/uts"}, "not a network namespace"},
		{Options{Cgroup: "/no/such/cgroup"}, "no such file"},
		{Options{Cgroup: file}, "not a directory"},
		{Options{Cgroup: t.TempDir()}, "not a directory of the cgroup v2 hierarchy"},
		{Options{Cgroup: "/"}, "not a directory of the cgroup v2 hierarchy"},
	} {
		f, err := newFilter(tc.o)
		if err == nil {
			f.close()
			t.Errorf("%+v accepted", tc.o)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want it to say %q", tc.o, err, tc.want)
		}
	}
}

func TestHolders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	rc.Control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) })
	if err != nil {
		t.Fatal(err)
	}
	ns, err := inode("/proc/self/ns/net")
	if err != nil {
		t.Skip(err)
	}
	var h holders
	if pid, comm := h.lookup(st.Ino, uint32(ns), 0); pid != os.Getpid() || comm == "" {
		t.Errorf("holder of own socket = %d %q, want %d", pid, comm, os.Getpid())
	}
	if pid, comm := h.lookup(st.Ino, 0, os.Getpid()); pid != os.Getpid() || comm == "" {
		t.Errorf("holder of own socket, looked for in this process = %d %q, want %d", pid, comm, os.Getpid())
	}
	if pid, _ := h.lookup(st.Ino, uint32(ns)+1, 0); pid != 0 {
		t.Errorf("holder in another namespace = %d, want 0", pid)
	}
}
