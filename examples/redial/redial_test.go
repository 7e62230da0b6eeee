package redial

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

// TestBudget: a dial to an address whose last connection died of a dead
// peer gets what is left of the timeout since the peer was last heard;
// none left fails at once; a death older than the timeout is forgotten.
func TestBudget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	const timeout = 5 * time.Second
	d, err := New(flatline.Config{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tt := range []struct {
		name  string
		death death
		want  error
	}{
		{"no time left", death{at: now, heard: now.Add(-timeout - time.Millisecond), cause: flatline.CauseUnacked}, ErrPeerSilent},
		{"time left", death{at: now, heard: now.Add(-timeout / 2), cause: flatline.CauseKeepalive}, nil},
		{"forgotten", death{at: now.Add(-timeout), heard: now.Add(-2 * timeout), cause: flatline.CauseKeepalive}, nil},
	} {
		d.mu.Lock()
		d.dead[addr] = tt.death
		d.mu.Unlock()
		began := time.Now()
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if c != nil {
			c.Close()
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: DialContext = %v, want %v", tt.name, err, tt.want)
		}
		if tt.want != nil && time.Since(began) > time.Second {
			t.Errorf("%s: failed after %v, want at once", tt.name, time.Since(began))
		}
	}
	if _, err := New(flatline.Config{Timeout: time.Second}); !errors.Is(err, flatline.ErrInvalidConfig) {
		t.Errorf("New with a 1 s timeout: %v, want ErrInvalidConfig", err)
	}
}
