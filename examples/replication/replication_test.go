package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/liveness"
)

func listenLoopback(t *testing.T, timeout time.Duration) net.Listener {
	t.Helper()
	lc := flatline.ListenConfig{Config: flatline.Config{Timeout: timeout}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// waitFor waits, bounded, for cond, re-checking on every change of the
// primary.
func waitFor(t *testing.T, p *Primary, within time.Duration, what string, cond func(Status) bool) {
	t.Helper()
	deadline := time.After(within)
	for {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		if cond(p.Status()) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: not within %v (status %+v)", what, within, p.Status())
		}
	}
}

// TestReplicates: records committed before and after the replica connects
// all reach it, in order, and Close leaves no goroutine behind.
func TestReplicates(t *testing.T) {
	base := runtime.NumGoroutine()
	cfg := Config{Timeout: 3 * time.Second, MaxLag: 16}
	p := NewPrimary(listenLoopback(t, cfg.Timeout), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	for i := range 100 {
		p.Commit(ctx, []byte{byte(i)}) // no replica yet: never waits
	}
	r := NewReplica(p.ln.Addr().String(), cfg)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for i := 100; i < 1000; i++ {
		if _, err := p.Commit(ctx, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if s := p.Status(); s.Up && s.Committed-s.Acked > cfg.MaxLag {
			t.Fatalf("commit returned with the replica %d behind, bound %d", s.Committed-s.Acked, cfg.MaxLag)
		}
	}
	waitFor(t, p, 10*time.Second, "replica caught up", func(s Status) bool { return s.Acked == 1000 })
	r.mu.Lock()
	for i, rec := range r.log {
		if !bytes.Equal(rec, []byte{byte(i)}) {
			t.Fatalf("record %d is %v", i+1, rec)
		}
	}
	r.mu.Unlock()
	cancel()
	<-done
	p.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("%d goroutines after Close, %d before", n, base)
	}
}

// TestLagDelaysCommits: a replica that answers the heartbeat but never
// acknowledges holds commits at MaxLag; once it is failed, commits go on.
func TestLagDelaysCommits(t *testing.T) {
	cfg := Config{Timeout: 3 * time.Second, MaxLag: 8}
	p := NewPrimary(listenLoopback(t, cfg.Timeout), cfg)
	defer p.Close()
	// A replica that connects, runs the heartbeat, and never reads.
	data, err := net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	data.Write(hello{kind: kindData, session: 7}.encode())
	hbc, err := net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	hbc.Write(hello{kind: kindHeartbeat, session: 7}.encode())
	hb, err := liveness.New(hbc, liveness.Config{Timeout: cfg.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	waitFor(t, p, 5*time.Second, "replica up", func(s Status) bool { return s.Up })

	ctx := context.Background()
	for range cfg.MaxLag {
		if _, err := p.Commit(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := p.Commit(short, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("commit %d with nothing acknowledged: %v, want it held at the lag bound", cfg.MaxLag+1, err)
	}
	data.Close() // the replica goes away: the link fails, commits go on
	began := time.Now()
	if _, err := p.Commit(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > cfg.Timeout {
		t.Errorf("commit waited %v for a failed replica", took)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"leader"},
		{"replica"},
		{"primary", "-rate", "0"},
		{"primary", "-timeout", "1s"},
	} {
		var out strings.Builder
		if err := run(context.Background(), args, &out); err == nil {
			t.Errorf("run(%q): no error", args)
		}
	}
}

func FuzzDecodeHello(f *testing.F) {
	f.Add(hello{kind: kindData, session: 1, last: 2}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHello(b)
		if err != nil {
			if !errors.Is(err, errWire) {
				t.Fatal(err)
			}
			return
		}
		if !bytes.Equal(h.encode(), b) {
			t.Fatalf("round trip of %x", b)
		}
	})
}

func FuzzDecodeRecordHeader(f *testing.F) {
	f.Add(appendRecord(nil, 1, nil))
	f.Add(appendRecord(nil, 0, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, n, err := decodeRecordHeader(b)
		if err != nil {
			if !errors.Is(err, errWire) {
				t.Fatal(err)
			}
			return
		}
		if seq == 0 || n > maxRecordSize {
			t.Fatalf("accepted seq %d, length %d", seq, n)
		}
	})
}
