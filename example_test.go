package flatline_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/flatline-dev/flatline"
)

// A plan shows what a timeout derives and the worst case per state.
func ExampleConfig_Plan() {
	p, err := flatline.Config{Timeout: 30 * time.Second}.Plan()
	if err != nil {
		panic(err)
	}
	s := p.Settings
	fmt.Printf("idle %v, interval %v, count %d, user timeout %v, spread %v, enforce's jitter up to %v\n",
		s.Idle, s.Interval, s.Count, s.UserTimeout, p.Spread, p.MaxJitter())
	for _, b := range p.Bounds {
		fmt.Printf("%-13s %v\n", b.State, b.Worst)
	}
	// Output:
	// idle 8s, interval 1s, count 15, user timeout 22.6s, spread 7s, enforce's jitter up to 6s
	// idle          30s
	// sending       29s
	// receiving     30s
	// closed-window 29s
	// connecting    28.6s
}

// PlanFor computes the bounds for a given host: its HZ narrows the timer
// slack (Plan assumes the coarsest common HZ), and its kernel adds notes.
// Read a live host once with flatline.ReadHost("/").
func ExampleConfig_PlanFor() {
	cfg := flatline.Config{Timeout: 30 * time.Second}
	h := flatline.LinuxDefaults()
	h.HZ = 250
	anyHZ, _ := cfg.Plan()
	at250, _ := cfg.PlanFor(h)
	fmt.Println("sending, any HZ:", anyHZ.Bound(flatline.StateSending))
	fmt.Println("sending, HZ=250:", at250.Bound(flatline.StateSending))
	// Output:
	// sending, any HZ: 29s (+700ms slack)
	// sending, HZ=250: 29s (+280ms slack)
}

// Validate explains the first setting that breaks the promise.
func ExampleConfig_Validate() {
	// The original story's settings, with a user timeout that fires
	// before the second probe.
	cfg := flatline.Config{Idle: 10 * time.Second, Interval: 10 * time.Second, Count: 2, UserTimeout: 15 * time.Second}
	fmt.Println(cfg.Validate())
	// Output:
	// flatline: UserTimeout 15s is shorter than Idle + Interval = 20s: a single lost keepalive probe would kill the connection; set UserTimeout to Idle + Count×Interval = 30s
}

// A Dialer plugs into net/http (and anything that takes a dial function).
func ExampleDialer_http() {
	d := &flatline.Dialer{Config: flatline.Config{Timeout: 30 * time.Second}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	_ = client
}

// ListenConfig gives accepted connections the same promise.
func ExampleListenConfig() {
	lc := flatline.ListenConfig{Config: flatline.Config{Timeout: 10 * time.Second}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	fmt.Println(ln.Addr().Network())
	// Output: tcp
}

// Diagnose tells a dead peer from a local deadline.
func ExampleDiagnose() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Read(make([]byte, 1)) // wait for the client's hello
			c.(*net.TCPConn).SetLinger(0)
			c.Close() // the peer resets
		}
	}()
	d := flatline.Dialer{}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	_, err = io.ReadAll(c)
	cause := flatline.Diagnose(c, err)
	fmt.Println(cause, cause.DeadPeer())
	// Output: reset true
}
