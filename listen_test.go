package flatline

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// A connection Accept cannot configure goes to ConfigureFailed: kept when
// it says so, closed otherwise.
func TestListenConfigConfigureFailed(t *testing.T) {
	for _, keep := range []bool{true, false} {
		var seen error
		lc := ListenConfig{Config: Config{Timeout: 3 * time.Second}, ConfigureFailed: func(c net.Conn, err error) bool {
			seen = err
			return keep
		}}
		ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// An accepted connection that is not a socket (wrapped so that
		// configure finds no SyscallConn) cannot be configured.
		fl := ln.(*listener)
		fl.Listener = noSyscallListener{fl.Listener}
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if keep {
			got, err := ln.Accept()
			if err != nil || got == nil || seen == nil {
				t.Errorf("keep: Accept = %v, %v; hook saw %v", got, err, seen)
			}
			if got != nil {
				got.Close()
			}
		} else {
			done := make(chan struct{})
			go func() { ln.Accept(); close(done) }()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("drop: the client read %v, want the connection closed", err)
			}
			ln.Close()
			<-done
		}
		c.Close()
		ln.Close()
	}
}

type noSyscallListener struct{ net.Listener }

func (l noSyscallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return struct{ net.Conn }{c}, nil
}
