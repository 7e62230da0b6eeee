package flatline_test

import (
	"net"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

// TestLastHeard: on a loopback connection, LastHeard moves to the moment
// the peer's byte arrived, to within the kernel's jiffy (its clock is
// jiffies, reported in ms: up to 10 ms at HZ=100, + 1 ms of rounding);
// a closed connection is an error.
func TestLastHeard(t *testing.T) {
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

	const slack = 11 * time.Millisecond
	sent := time.Now()
	if _, err := peer.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	got, err := flatline.LastHeard(c)
	now := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if got.Before(sent.Add(-slack)) || got.After(now) {
		t.Errorf("LastHeard %v, want within [%v, %v]", got.Format(time.StampMicro), sent.Add(-slack).Format(time.StampMicro), now.Format(time.StampMicro))
	}
	c.Close()
	if _, err := flatline.LastHeard(c); err == nil {
		t.Error("LastHeard of a closed connection: no error")
	}
}
