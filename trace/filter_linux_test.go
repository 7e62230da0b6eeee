package trace

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFilter(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "app.slice", "db.service")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	subID, _ := inode(sub)
	otherID, _ := inode(other)
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
		{"pid kept", Options{PID: 7}, Event{PID: 7}, true},
		{"pid dropped", Options{PID: 7}, Event{PID: 8}, false},
		{"pid unknown dropped", Options{PID: 7}, Event{}, false},
		{"netns kept", Options{NetNSPath: "/proc/self/ns/net"}, Event{NetNS: uint32(selfNS)}, true},
		{"netns dropped", Options{NetNSPath: "/proc/self/ns/net"}, Event{NetNS: uint32(selfNS) + 1}, false},
		{"cgroup below kept", Options{Cgroup: root}, Event{Cgroup: subID}, true},
		{"cgroup elsewhere dropped", Options{Cgroup: root}, Event{Cgroup: otherID}, false},
		{"cgroup unknown dropped", Options{Cgroup: root}, Event{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := newFilter(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.keep(tt.e); got != tt.keep {
				t.Errorf("keep = %v, want %v", got, tt.keep)
			}
		})
	}
	// A cgroup made after the tracer started is found on the miss.
	f, err := newFilter(Options{Cgroup: root})
	if err != nil {
		t.Fatal(err)
	}
	late := filepath.Join(root, "late.scope")
	if err := os.Mkdir(late, 0o755); err != nil {
		t.Fatal(err)
	}
	lateID, _ := inode(late)
	if !f.keep(Event{Cgroup: lateID}) {
		t.Errorf("a cgroup made after the start is not kept")
	}
}

func TestFilterBadInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for _, o := range []Options{
		{PID: -1},
		{NetNS: "a/b"},
		{NetNS: "flt-no-such-namespace"},
		{NetNS: "x", NetNSPath: "/proc/self/ns/net"},
		{Cgroup: "/no/such/cgroup"},
		{Cgroup: file},
	} {
		if _, err := newFilter(o); err == nil {
			t.Errorf("%+v accepted", o)
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
