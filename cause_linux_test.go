package flatline_test

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/flatline-dev/flatline"
	"github.com/vishvananda/netlink"
)

// TestIntegrationAbortedIsNotReset destroys a live loopback connection
// from this host (SOCK_DESTROY, what `ss -K` does): the kernel's tcp_abort
// hands the application ECONNABORTED, which Diagnose (and the tracer,
// through the same flatline.ErrnoCause) calls aborted, not a dead peer.
func TestIntegrationAbortedIsNotReset(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SOCK_DESTROY needs CAP_NET_ADMIN: run as root")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if err := netlink.SocketDestroy(c.LocalAddr(), c.RemoteAddr()); err != nil {
		if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOENT) {
			t.Skipf("kernel cannot destroy sockets (CONFIG_INET_DIAG_DESTROY): %v", err)
		}
		t.Fatal(err)
	}
	_, err = c.Read(make([]byte, 1)) // returns at once: the socket is closed with its error
	if !errors.Is(err, syscall.ECONNABORTED) {
		t.Fatalf("read after SOCK_DESTROY: %v, want ECONNABORTED", err)
	}
	if got := flatline.Diagnose(c, err); got != flatline.CauseAborted || got.DeadPeer() {
		t.Errorf("Diagnose = %v (dead peer %v), want aborted, not a dead peer", got, got.DeadPeer())
	}
}
