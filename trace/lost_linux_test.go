package trace

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

// TestIntegrationLost overflows a one-page ring buffer with resets nobody
// reads: the deaths that did not fit are counted, and those that did are
// read whole.
func TestIntegrationLost(t *testing.T) {
	needRoot(t)
	tn := time.Now()
	tr, err := newTracer(Options{PID: os.Getpid()}, uint32(os.Getpagesize()))
	t.Logf("loaded in %v", time.Since(tn))
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t0 := time.Now()
	const n = 100 // 136 bytes a record with its header: a 4 KiB page holds 30
	for range n {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s.(*net.TCPConn).SetLinger(0)
		s.Close()
		c.Read(make([]byte, 1)) // the RST has arrived
		c.Close()
	}
	t.Logf("provoked in %v", time.Since(t0))
	lost, err := tr.Lost()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	read := 0
	for {
		e, err := tr.Read(ctx)
		if err != nil {
			break
		}
		if e.Cause != flatline.CauseReset {
			t.Errorf("event %s", jsonOf(e))
		}
		read++
	}
	t.Logf("%d resets: %d read, %d counted lost (%v)", n, read, lost, time.Since(t0))
	if lost == 0 || read == 0 || uint64(read)+lost < n {
		t.Errorf("%d resets: %d read and %d lost, want some of each adding up to at least %d", n, read, lost, n)
	}
}
