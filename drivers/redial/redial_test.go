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
	d, err := New(flatline.Config{Timeout: timeout}, Options{})
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
		var silent *PeerSilentError
		if tt.want != nil && (!errors.As(err, &silent) || silent.Cause != tt.death.cause || flatline.Diagnose(nil, err) != tt.death.cause) {
			t.Errorf("%s: %v: errors.As %v, Diagnose %v; want a *PeerSilentError classified %v", tt.name, err, silent, flatline.Diagnose(nil, err), tt.death.cause)
		}
		if tt.want != nil && time.Since(began) > time.Second {
			t.Errorf("%s: failed after %v, want at once", tt.name, time.Since(began))
		}
	}
	if _, err := New(flatline.Config{Timeout: time.Second}, Options{}); !errors.Is(err, flatline.ErrInvalidConfig) {
		t.Errorf("New with a 1 s timeout: %v, want ErrInvalidConfig", err)
	}
}

// TestUserDial: the user's own dial function is composed (its connection
// configured with flatline's settings and recorded) when it returns a TCP
// connection, and refused with a *DialError when it returns something
// flatline cannot see.
func TestUserDial(t *testing.T) {
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
			defer c.Close()
		}
	}()
	cfg := flatline.Config{Timeout: 5 * time.Second}
	plan, err := cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	var called bool
	own := func(ctx context.Context, network, addr string) (net.Conn, error) {
		called = true
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	d, err := New(cfg, Options{Dial: own})
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !called {
		t.Error("the user's dial function was not called")
	}
	s, err := flatline.ReadSettings(c.(*Conn))
	if err != nil {
		t.Skipf("cannot read settings back here: %v", err)
	}
	if s.UserTimeout != plan.Settings.UserTimeout || s.Idle != plan.Settings.Idle {
		t.Errorf("composed connection has %+v, want the plan's %+v", s, plan.Settings)
	}

	wrapped := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := own(ctx, network, addr)
		return struct{ net.Conn }{c}, err
	}
	d, _ = New(cfg, Options{Dial: wrapped})
	_, err = d.DialContext(context.Background(), "tcp", ln.Addr().String())
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("a dial function returning a hidden socket: %v, want a *DialError", err)
	}
	t.Logf("refused: %v", err)
}
