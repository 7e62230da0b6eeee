package exporter_test

import (
	"context"
	"log"
	"net"
	"os/signal"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/exporter"
)

// Serve every namespace's sockets on :9977, scanned every 30 s against a
// one-minute budget.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	e, err := exporter.New(exporter.Config{Interval: 30 * time.Second, Budget: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	go e.Run(ctx)
	ln, err := net.Listen("tcp", ":9977")
	if err != nil {
		log.Fatal(err)
	}
	// Serve bounds what clients may hold: idle, read and write timeouts
	// and at most 64 connections (HTTPConfig's zero value).
	if err := exporter.Serve(ctx, ln, e.Handler(), exporter.HTTPConfig{}); err != nil {
		log.Fatal(err)
	}
}

// A death source feeds flatline_deaths_total: here, connections a program
// saw end, diagnosed with flatline.Diagnose and sent on a channel.
func ExampleDeathSourceFunc() {
	ended := make(chan flatline.Cause, 64)
	src := exporter.DeathSourceFunc(func(ctx context.Context, record func(exporter.Death)) error {
		for {
			select {
			case c := <-ended:
				record(exporter.Death{Cause: c})
			case <-ctx.Done():
				return nil
			}
		}
	})
	e, err := exporter.New(exporter.Config{Deaths: src})
	if err != nil {
		log.Fatal(err)
	}
	_ = e
}
