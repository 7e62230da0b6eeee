package flatline_test

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/flatline-dev/flatline"
)

func TestRecorderKeepAndUnwrap(t *testing.T) {
	rec := &flatline.Recorder{Keep: 2}
	server := &flatline.Recorder{}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := server.Listener(plain)
	defer ln.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, rec.Wrap(c))
	}
	if _, ok := rec.Of(conns[0]); ok {
		t.Errorf("open connection reported ended")
	}
	tc := tls.Client(conns[0], &tls.Config{InsecureSkipVerify: true})
	for _, c := range conns {
		c.Close()
	}
	if e, ok := rec.Of(tc); !ok || e.Cause != flatline.CauseLocalClose {
		t.Errorf("through tls.Conn.NetConn: %+v, %v", e, ok)
	}
	if _, ok := rec.Lookup(conns[0].LocalAddr().String(), conns[0].RemoteAddr().String()); ok {
		t.Errorf("Keep 2: the oldest of 3 is still remembered")
	}
	if _, ok := rec.Lookup(conns[2].LocalAddr().String(), conns[2].RemoteAddr().String()); !ok {
		t.Errorf("Keep 2: the newest is forgotten")
	}
	s := <-accepted
	s.Read(make([]byte, 1)) // the client closed: end of file
	if e, ok := server.Of(s); !ok || e.Cause != flatline.CausePeerClosed {
		t.Errorf("accepted connection after the client closed: %+v, %v", e, ok)
	}
	s.Close()
	if _, ok := conns[0].(*flatline.Recorded); !ok {
		t.Errorf("Wrap returned %T", conns[0])
	}
	var notTCP net.Conn = &net.UnixConn{}
	if got := rec.Wrap(notTCP); got != notTCP {
		t.Errorf("Wrap of a non-TCP conn changed it")
	}
}
