package kernel

import (
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestIntegrationRTOMax sets TCP_RTO_MAX_MS through the option table on a
// loopback socket and reads it back; the kernel's own cap (120 s) reads
// back as zero. A kernel before 6.15 skips the option: the test says so.
func TestIntegrationRTOMax(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var kernelHas error
	rc.Control(func(fd uintptr) {
		_, kernelHas = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_RTO_MAX_MS)
	})
	for _, want := range []time.Duration{0, 5 * time.Second, time.Second} {
		var got Options
		var opErr error
		rc.Control(func(fd uintptr) {
			o := Options{KeepAlive: true, Idle: 8 * time.Second, Interval: time.Second, Count: 15, UserTimeout: 22600 * time.Millisecond, RTOMax: want}
			if opErr = SetOptions(int(fd), o); opErr == nil {
				got, opErr = GetOptions(int(fd))
			}
		})
		if opErr != nil {
			t.Fatalf("RTOMax %v: %v", want, opErr)
		}
		if errors.Is(kernelHas, unix.ENOPROTOOPT) {
			if got.RTOMax != 0 {
				t.Errorf("a kernel without TCP_RTO_MAX_MS read back %v", got.RTOMax)
			}
			continue
		}
		if got.RTOMax != want {
			t.Errorf("RTOMax set %v, read back %v", want, got.RTOMax)
		}
	}
	if errors.Is(kernelHas, unix.ENOPROTOOPT) {
		t.Skip("this kernel has no TCP_RTO_MAX_MS (Linux 6.15+): the table skipped it and read zero")
	}
}
