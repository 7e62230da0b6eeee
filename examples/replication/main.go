// Command replication is the original story's link built on flatline: a
// primary ships log records to a replica on every commit, the replica
// acknowledges what it has committed, the primary delays commits while the
// replica is more than -lag records behind, and fails the replica within
// -timeout whatever happened to it (partition, one-way loss, link down,
// frozen, rebooted); the replica connects again when the path heals.
//
//	replication primary -listen :7400 -timeout 5s -rate 100
//	replication replica -connect primary:7400 -timeout 5s
//
// The primary commits -rate records a second and prints every change of the
// link and, each second, where both ends stand and the longest commit.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "replication:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || (args[0] != "primary" && args[0] != "replica") {
		return fmt.Errorf("usage: replication primary -listen ADDR | replica -connect ADDR [-timeout T]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "the longest a dead peer goes unnoticed (flatline and the heartbeat)")
	listen := fs.String("listen", ":7400", "primary: address to serve replicas on")
	connect := fs.String("connect", "", "replica: the primary's address")
	rate := fs.Int("rate", 100, "primary: records committed per second")
	lag := fs.Uint64("lag", 128, "primary: records the replica may be behind before commits wait")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg := Config{Timeout: *timeout, MaxLag: *lag}
	if err := (flatline.Config{Timeout: cfg.Timeout}).Validate(); err != nil {
		return err
	}
	if args[0] == "replica" {
		if *connect == "" {
			return fmt.Errorf("replica: -connect is required (the primary's address)")
		}
		return runReplica(ctx, *connect, cfg, out)
	}
	if *rate <= 0 {
		return fmt.Errorf("primary: -rate must be positive, got %d", *rate)
	}
	return runPrimary(ctx, *listen, cfg, *rate, out)
}

func runPrimary(ctx context.Context, addr string, cfg Config, rate int, out io.Writer) error {
	lc := flatline.ListenConfig{Config: flatline.Config{Timeout: cfg.Timeout}}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	p := NewPrimary(ln, cfg)
	defer p.Close()
	fmt.Fprintf(out, "primary on %s, T = %v, lag bound %d\n", ln.Addr(), cfg.Timeout, cfg.maxLag())
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	report := time.NewTicker(time.Second)
	defer report.Stop()
	var longest time.Duration
	rec := make([]byte, 128)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-p.Events():
			fmt.Fprintf(out, "%8.3fs %v\n", e.At.Sub(start).Seconds(), e)
		case <-report.C:
			s := p.Status()
			fmt.Fprintf(out, "%8.3fs committed %d, replica at %d (up %v), longest commit %v\n",
				time.Since(start).Seconds(), s.Committed, s.Acked, s.Up, longest.Round(time.Millisecond))
			longest = 0
		case <-tick.C:
			began := time.Now()
			if _, err := p.Commit(ctx, rec); err != nil {
				return err
			}
			longest = max(longest, time.Since(began))
		}
	}
}

func runReplica(ctx context.Context, addr string, cfg Config, out io.Writer) error {
	r := NewReplica(addr, cfg)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	start := time.Now()
	for {
		select {
		case err := <-done:
			return err
		case e := <-r.Events():
			if e.Up {
				fmt.Fprintf(out, "%8.3fs connected at %d\n", e.At.Sub(start).Seconds(), e.Acked)
			} else {
				fmt.Fprintf(out, "%8.3fs lost the primary at %d: %v\n", e.At.Sub(start).Seconds(), e.Acked, e.Err)
			}
		}
	}
}
