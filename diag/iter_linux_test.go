package diag

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestIntegrationScanKernelOptions checks the BPF iterator path: with the
// /proc walk off (no owners, so pidfd_getfd has nothing to read from) the
// options of a connection are still read, in the kernel, equal to what
// getsockopt says, and the report says which path was used.
func TestIntegrationScanKernelOptions(t *testing.T) {
	requireRoot(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := &flatline.Dialer{Config: flatline.Config{Timeout: 7 * time.Second}}
	c, err := d.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want, err := flatline.ReadSettings(c.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	want.RTOMax = 0 // TCP_RTO_MAX_MS is not among the options the iterator reads
	rc, _ := c.(*net.TCPConn).SyscallConn()
	var st unix.Stat_t
	rc.Control(func(fd uintptr) { unix.Fstat(int(fd), &st) })

	r, err := Scan(context.Background(), Options{NoOwners: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Notes, "\n"), "BPF iterator over TCP sockets (") {
		t.Skipf("the iterator did not run here: %q", r.Notes)
	}
	for i := range r.Sockets {
		if r.Sockets[i].Inode != st.Ino {
			continue
		}
		got := r.Sockets[i].Settings
		if got == nil {
			t.Fatalf("options not read without owners: %v", r.Sockets[i].OptionsErr)
		}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("iterator vs getsockopt (-want +got):\n%s", diff)
		}
		return
	}
	t.Fatalf("socket inode %d not in the scan", st.Ino)
}
