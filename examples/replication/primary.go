package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/flatline-dev/flatline/liveness"
)

// Config is what both ends agree on.
type Config struct {
	// Timeout is T: the longest a dead, partitioned or frozen replica (or
	// primary) goes unnoticed. It sets flatline's socket settings and the
	// heartbeat. Zero means flatline.DefaultTimeout (30 s).
	Timeout time.Duration
	// MaxLag is how many records the replica may be behind before commits
	// wait for it. Zero means 128.
	MaxLag uint64
}

func (c Config) maxLag() uint64 {
	if c.MaxLag == 0 {
		return 128
	}
	return c.MaxLag
}

// Event is a change of the replica link, as the primary (or the replica)
// sees it.
type Event struct {
	At    time.Time
	Up    bool
	Err   error  // why the link was failed, when !Up
	Acked uint64 // the replica's last acknowledged record
}

func (e Event) String() string {
	if e.Up {
		return fmt.Sprintf("replica up, acknowledged %d", e.Acked)
	}
	return fmt.Sprintf("replica failed at %d: %v", e.Acked, e.Err)
}

// errReplaced fails a link whose replica connected again.
var errReplaced = errors.New("the replica connected again")

// Primary ships every committed record to one replica, takes its
// acknowledgements, delays commits while the replica is more than MaxLag
// behind, and fails the replica within Timeout when it stops acknowledging
// or answering: the kernel ends the data connection (flatline's settings
// on the listener) and a liveness.Monitor ends a frozen one. A failed
// replica no longer delays commits; when it connects again it resumes
// from what it last committed.
type Primary struct {
	cfg    Config
	ln     net.Listener
	events chan Event

	mu      sync.Mutex
	log     [][]byte // record i+1 is log[i]
	acked   uint64
	link    *link
	changed chan struct{} // closed and replaced on every change of the above
	pending map[uint64]*pendingLink
	closed  bool

	wg sync.WaitGroup
}

// pendingLink is half of a link: the connection that arrived first.
type pendingLink struct {
	data, hb net.Conn
	last     uint64
}

// NewPrimary serves replicas on ln, which should come from a
// flatline.ListenConfig with the same Timeout. Events reports every change
// of the replica link; Close stops it.
func NewPrimary(ln net.Listener, cfg Config) *Primary {
	p := &Primary{
		cfg:     cfg,
		ln:      ln,
		events:  make(chan Event, 1024),
		changed: make(chan struct{}),
		pending: map[uint64]*pendingLink{},
	}
	p.wg.Add(1)
	go p.accept()
	return p
}

// Events reports the replica link's changes. Events beyond 1024 unread ones
// are dropped.
func (p *Primary) Events() <-chan Event { return p.events }

func (p *Primary) emit(e Event) {
	select {
	case p.events <- e:
	default:
	}
}

// notify wakes everyone waiting on a change; p.mu is held.
func (p *Primary) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Status is where the primary and its replica stand.
type Status struct {
	Committed, Acked uint64
	Up               bool
}

// Status returns where the primary and its replica stand now.
func (p *Primary) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Status{Committed: uint64(len(p.log)), Acked: p.acked, Up: p.link != nil}
}

// Commit appends rec to the log and returns its sequence number. While a
// replica is up and more than MaxLag records behind, Commit waits for it,
// at most until the replica is failed (within Timeout) or ctx ends.
func (p *Primary) Commit(ctx context.Context, rec []byte) (uint64, error) {
	if len(rec) > maxRecordSize {
		return 0, fmt.Errorf("replication: record of %d bytes, at most %d", len(rec), maxRecordSize)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, net.ErrClosed
	}
	p.log = append(p.log, append([]byte(nil), rec...))
	seq := uint64(len(p.log))
	p.notify()
	for p.link != nil && seq-p.acked > p.cfg.maxLag() {
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			return seq, ctx.Err()
		}
		p.mu.Lock()
	}
	return seq, nil
}

// Close stops serving, fails the replica link and returns when every
// goroutine of the primary is gone.
func (p *Primary) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	l := p.link
	for s, pl := range p.pending {
		pl.close()
		delete(p.pending, s)
	}
	p.mu.Unlock()
	if l != nil {
		l.fail(net.ErrClosed)
	}
	p.wg.Wait()
	return err
}

func (p *Primary) accept() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handshake(conn)
		}()
	}
}

// handshake reads a connection's hello and pairs the data connection with
// the heartbeat connection of the same session, whichever comes first; a
// half whose other half does not come within Timeout is dropped.
func (p *Primary) handshake(conn net.Conn) {
	t := p.timeout()
	conn.SetDeadline(time.Now().Add(t))
	b := make([]byte, helloSize)
	if _, err := io.ReadFull(conn, b); err != nil {
		conn.Close()
		return
	}
	h, err := decodeHello(b)
	if err != nil {
		conn.Close()
		return
	}
	conn.SetDeadline(time.Time{})
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		conn.Close()
		return
	}
	pl := p.pending[h.session]
	if pl == nil {
		pl = &pendingLink{}
		p.pending[h.session] = pl
		time.AfterFunc(t, func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.pending[h.session] == pl {
				delete(p.pending, h.session)
				pl.close()
			}
		})
	}
	if h.kind == kindData {
		pl.data, pl.last = conn, h.last
	} else {
		pl.hb = conn
	}
	if pl.data == nil || pl.hb == nil {
		return
	}
	delete(p.pending, h.session)
	m, err := liveness.New(pl.hb, liveness.Config{Timeout: t})
	if err != nil {
		pl.close()
		return
	}
	if old := p.link; old != nil {
		p.link = nil
		go old.fail(errReplaced)
	}
	l := &link{p: p, data: pl.data, hb: m, done: make(chan struct{})}
	p.link = l
	p.acked = min(pl.last, uint64(len(p.log)))
	p.notify()
	p.emit(Event{At: time.Now(), Up: true, Acked: p.acked})
	p.wg.Add(3)
	go l.send(p.acked + 1)
	go l.readAcks()
	go l.watch()
}

func (pl *pendingLink) close() {
	for _, c := range []net.Conn{pl.data, pl.hb} {
		if c != nil {
			c.Close()
		}
	}
}

func (p *Primary) timeout() time.Duration {
	if p.cfg.Timeout == 0 {
		return 30 * time.Second
	}
	return p.cfg.Timeout
}

// link is one replica connection: data and heartbeat.
type link struct {
	p    *Primary
	data net.Conn
	hb   *liveness.Monitor
	once sync.Once
	done chan struct{}
}

// fail ends the link once, with the first reason.
func (l *link) fail(err error) {
	l.once.Do(func() {
		close(l.done)
		l.data.Close()
		l.hb.Close()
		p := l.p
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.link == l {
			p.link = nil
			p.notify()
		}
		if !errors.Is(err, net.ErrClosed) {
			p.emit(Event{At: time.Now(), Err: err, Acked: p.acked})
		}
	})
}

// send ships the records from next on as they are committed.
func (l *link) send(next uint64) {
	defer l.p.wg.Done()
	var buf []byte
	for {
		p := l.p
		p.mu.Lock()
		for next > uint64(len(p.log)) {
			ch := p.changed
			p.mu.Unlock()
			select {
			case <-ch:
			case <-l.done:
				return
			}
			p.mu.Lock()
		}
		buf = buf[:0]
		for ; next <= uint64(len(p.log)) && len(buf) < 64<<10; next++ {
			buf = appendRecord(buf, next, p.log[next-1])
		}
		p.mu.Unlock()
		if _, err := l.data.Write(buf); err != nil {
			l.fail(fmt.Errorf("send: %w", err))
			return
		}
	}
}

// readAcks takes the replica's acknowledgements.
func (l *link) readAcks() {
	defer l.p.wg.Done()
	b := make([]byte, ackSize)
	for {
		if _, err := io.ReadFull(l.data, b); err != nil {
			l.fail(fmt.Errorf("read acknowledgement: %w", err))
			return
		}
		seq := binary.BigEndian.Uint64(b)
		p := l.p
		p.mu.Lock()
		if p.link == l && seq > p.acked && seq <= uint64(len(p.log)) {
			p.acked = seq
			p.notify()
		}
		p.mu.Unlock()
	}
}

// watch fails the link when the heartbeat does.
func (l *link) watch() {
	defer l.p.wg.Done()
	select {
	case <-l.hb.Done():
		l.fail(l.hb.Err())
	case <-l.done:
	}
}
