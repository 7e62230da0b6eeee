package bpfiter

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/flatline-dev/flatline"
)

// TestIntegrationOwners checks the owner iterator against /proc: every
// TCP socket descriptor of this process, with its fd and command.
func TestIntegrationOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading a BPF iterator needs root")
	}
	// Plain TCP: Go listens with MPTCP by default where the kernel has it,
	// and an MPTCP socket is not a TCP one for inet_diag.
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	owners, err := ReadOwners()
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Owner{}
	for _, o := range owners {
		if o.PID == os.Getpid() {
			got[strconv.Itoa(o.FD)] = o
		}
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, fd := range fds {
		l, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err != nil || !strings.HasPrefix(l, "socket:[") {
			continue
		}
		o, ok := got[fd.Name()]
		if !ok {
			continue // a socket, not TCP (netlink, unix)
		}
		want++
		if "socket:["+strconv.FormatUint(o.Inode, 10)+"]" != l || o.Comm != strings.TrimSpace(string(comm)) {
			t.Errorf("fd %s: /proc says %s (%s), the iterator %+v", fd.Name(), l, strings.TrimSpace(string(comm)), o)
		}
	}
	if want != 3 || len(got) != 3 {
		t.Errorf("the iterator found %d TCP descriptors of this process (%d matched /proc), want 3 (listener and both ends)", len(got), want)
	}
}
