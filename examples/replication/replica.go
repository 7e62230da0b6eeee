package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/liveness"
)

// Replica commits the primary's records in order and acknowledges them.
// It watches the primary as the primary watches it (flatline's settings on
// both connections, a heartbeat beside them) and connects again after a
// failure, resuming from what it last committed.
type Replica struct {
	cfg    Config
	addr   string
	events chan Event

	mu  sync.Mutex
	log [][]byte
}

// NewReplica returns a replica of the primary at addr; Run runs it.
func NewReplica(addr string, cfg Config) *Replica {
	return &Replica{cfg: cfg, addr: addr, events: make(chan Event, 1024)}
}

// Events reports the link's changes as the replica sees them.
func (r *Replica) Events() <-chan Event { return r.events }

// Committed is the last record the replica committed.
func (r *Replica) Committed() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return uint64(len(r.log))
}

// Run connects, replicates, and connects again after every failure, until
// ctx ends. A failed attempt waits a random part of a tenth of the timeout
// before the next, so replicas do not reconnect in lockstep.
func (r *Replica) Run(ctx context.Context) error {
	t := r.cfg.Timeout
	if t == 0 {
		t = flatline.DefaultTimeout
	}
	for {
		err := r.session(ctx, t)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case r.events <- Event{At: time.Now(), Err: err, Acked: r.Committed()}:
		default:
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(t/20 + rand.N(t/20)):
		}
	}
}

// session is one connection to the primary, until it fails.
func (r *Replica) session(ctx context.Context, t time.Duration) error {
	d := flatline.Dialer{Config: flatline.Config{Timeout: max(t, flatline.MinTimeout)}}
	session := rand.Uint64()
	data, err := d.DialContext(ctx, "tcp", r.addr)
	if err != nil {
		return fmt.Errorf("dial data: %w", err)
	}
	defer data.Close()
	if _, err := data.Write(hello{kind: kindData, session: session, last: r.Committed()}.encode()); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	hbConn, err := d.DialContext(ctx, "tcp", r.addr)
	if err != nil {
		return fmt.Errorf("dial heartbeat: %w", err)
	}
	if _, err := hbConn.Write(hello{kind: kindHeartbeat, session: session}.encode()); err != nil {
		hbConn.Close()
		return fmt.Errorf("hello: %w", err)
	}
	hb, err := liveness.New(hbConn, liveness.Config{Timeout: t})
	if err != nil {
		hbConn.Close()
		return err
	}
	defer hb.Close()
	select {
	case r.events <- Event{At: time.Now(), Up: true, Acked: r.Committed()}:
	default:
	}
	// The heartbeat's failure, or ctx, ends the data connection too.
	stop := context.AfterFunc(ctx, func() { data.Close() })
	defer stop()
	var failed error
	var once sync.Once
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		<-hb.Done()
		once.Do(func() { failed = hb.Err() })
		data.Close()
	}()
	err = r.apply(data, hb)
	hb.Close()
	<-watched
	once.Do(func() { failed = err })
	if errors.Is(failed, liveness.ErrClosed) {
		failed = err
	}
	return failed
}

// apply reads records, commits those that come next, and acknowledges.
func (r *Replica) apply(data net.Conn, hb *liveness.Monitor) error {
	hdr := make([]byte, recordHeader)
	ack := make([]byte, ackSize)
	for {
		if _, err := io.ReadFull(data, hdr); err != nil {
			return fmt.Errorf("read record: %w", err)
		}
		seq, n, err := decodeRecordHeader(hdr)
		if err != nil {
			return err
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(data, rec); err != nil {
			return fmt.Errorf("read record: %w", err)
		}
		r.mu.Lock()
		last := uint64(len(r.log))
		switch {
		case seq == last+1:
			r.log = append(r.log, rec)
			last++
		case seq > last+1:
			r.mu.Unlock()
			return fmt.Errorf("%w: record %d after %d", errWire, seq, last)
		}
		r.mu.Unlock()
		hb.Beat()
		binary.BigEndian.PutUint64(ack, last)
		if _, err := data.Write(ack); err != nil {
			return fmt.Errorf("acknowledge: %w", err)
		}
	}
}
