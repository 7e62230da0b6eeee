package bpfiter

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func inodeOf(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var serr error
	rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) })
	if serr != nil {
		t.Fatal(serr)
	}
	return st.Ino
}

// TestIntegrationIterMatchesGetsockopt reads sockets with assorted
// settings both ways: the iterator must say what getsockopt says.
func TestIntegrationIterMatchesGetsockopt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading a BPF iterator needs root")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []*net.TCPConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, cfg := range []flatline.Config{{Timeout: 3 * time.Second}, {Timeout: 45 * time.Second}, {}} {
		d := &flatline.Dialer{Config: cfg}
		if cfg.Timeout == 0 {
			d = &flatline.Dialer{Config: flatline.Config{Timeout: 10 * time.Second}}
		}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c.(*net.TCPConn))
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, s.(*net.TCPConn))
	}
	plain, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conns = append(conns, plain.(*net.TCPConn))

	host, err := flatline.ReadHost("/")
	if err != nil {
		t.Fatal(err)
	}
	host.HZ = 0 // derive it from tcp_keepalive_time, the harder path
	socks, err := Read(host)
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	byInode := map[uint64]Socket{}
	for _, s := range socks {
		byInode[s.Inode] = s
	}
	for _, c := range conns {
		want, err := flatline.ReadSettings(c)
		if err != nil {
			t.Fatal(err)
		}
		want.RTOMax = 0 // TCP_RTO_MAX_MS is not among the options the iterator reads
		got, ok := byInode[inodeOf(t, c)]
		if !ok {
			t.Errorf("%v: not in the iterator's %d sockets", c.LocalAddr(), len(socks))
			continue
		}
		if diff := cmp.Diff(want, got.Settings); diff != "" {
			t.Errorf("%v -> %v: iterator (-getsockopt +iterator):\n%s", c.LocalAddr(), c.RemoteAddr(), diff)
		}
		if got.LocalPort != uint16(c.LocalAddr().(*net.TCPAddr).Port) {
			t.Errorf("%v: local port %d", c.LocalAddr(), got.LocalPort)
		}
	}
	if _, ok := byInode[inodeOf(t, ln.(*net.TCPListener))]; !ok {
		t.Errorf("listener not in the iterator's sockets")
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if l, _ := os.Readlink("/proc/self/fd/" + fd.Name()); strings.HasPrefix(l, "anon_inode:bpf") {
			t.Errorf("fd %s -> %s open after Read: the iterator stayed loaded", fd.Name(), l)
		}
	}
}
