package liveness_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/liveness"
)

// The bounds one Timeout gives.
func ExampleConfig_Plan() {
	p, err := liveness.Config{Timeout: 5 * time.Second}.Plan()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("reported within", p.Timeout, "(deadline", p.Deadline, "of silence)")
	fmt.Println("peer pauses survived up to", p.PauseBudget)
	fmt.Println("a ping every", p.MinInterval, "to", p.MaxInterval)
	// Output:
	// reported within 5s (deadline 4.75s of silence)
	// peer pauses survived up to 2.5s
	// a ping every 750ms to 1.25s
}

// Validate says what to change.
func ExampleConfig_Validate() {
	err := liveness.Config{Timeout: 10 * time.Second, PauseBudget: 9 * time.Second}.Validate()
	fmt.Println(err)
	// Output:
	// liveness: PauseBudget 9s leaves no time to ping within Timeout 10s: use a PauseBudget of at most 7s
}

// Both ends of a heartbeat connection run a Monitor; the program watches
// Done beside its own work and tells the causes apart with errors.Is.
func ExampleNew() {
	ctx := context.Background()
	fc := flatline.Config{Timeout: 5 * time.Second}

	// The server side: the heartbeat listener, with flatline's settings.
	lc := flatline.ListenConfig{Config: fc}
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	served := make(chan *liveness.Monitor, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			close(served)
			return
		}
		m, _ := liveness.New(conn, liveness.Config{Timeout: fc.Timeout})
		served <- m
	}()

	// The client side.
	d := flatline.Dialer{Config: fc}
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := liveness.New(conn, liveness.Config{Timeout: fc.Timeout})
	if err != nil {
		fmt.Println(err)
		return
	}
	server := <-served

	server.Close() // the peer leaves
	<-m.Done()
	switch err := m.Err(); {
	case errors.Is(err, liveness.ErrUnresponsive):
		fmt.Println("peer frozen")
	case errors.Is(err, io.EOF):
		fmt.Println("peer closed its end")
	case errors.Is(err, liveness.ErrUnreachable):
		fmt.Println("peer unreachable")
	}
	m.Close()
	// Output:
	// peer closed its end
}

// A work loop that must keep moving calls Beat; the peer watches it with
// Config.Progress.
func ExampleMonitor_Beat() {
	a, b := net.Pipe() // any net.Conn that carries only the heartbeat
	worker, _ := liveness.New(a, liveness.Config{Timeout: 5 * time.Second})
	watcher, _ := liveness.New(b, liveness.Config{Timeout: 5 * time.Second, Progress: 10 * time.Second})
	for range 3 { // the work loop
		worker.Beat()
	}
	fmt.Println(watcher.Err())
	worker.Close()
	watcher.Close()
	// Output:
	// <nil>
}
