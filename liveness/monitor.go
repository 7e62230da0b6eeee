package liveness

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Monitor watches one link: it pings the peer over a connection of its own,
// answers the peer's pings, and fails the link when the peer stops
// answering (see Config and Plan for the bounds). Both ends of the link run
// a Monitor on the two ends of the same connection.
//
// A Monitor runs three goroutines (pinger, reader, writer) and one timer,
// all gone when Close returns.
type Monitor struct {
	conn  net.Conn
	plan  Plan
	beats atomic.Uint64 // this end's work-loop beats, sent in every frame

	mu         sync.Mutex
	heard      time.Time // the last frame from the peer arrived
	peerBeats  uint64    // the peer's beats in its last frame
	progressed time.Time // the peer's beats last changed
	err        error     // why the link ended; set once, before done closes

	out  chan frame    // to the writer
	done chan struct{} // closed when the link ends: failed or closed
	once sync.Once
	wg   sync.WaitGroup
}

// New starts watching the link over conn and takes conn over: the Monitor
// reads and writes it and closes it when the link fails or on Close. conn
// must carry nothing else (its own TCP connection, or a stream of a
// multiplexer), and the peer must run a Monitor on the other end. Give conn
// flatline's settings (flatline.Dialer, flatline.ListenConfig) so that the
// kernel also ends it within the same Timeout.
//
// New fails only for a Config that Validate rejects.
func New(conn net.Conn, cfg Config) (*Monitor, error) {
	p, err := cfg.Plan()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	m := &Monitor{
		conn:       conn,
		plan:       p,
		heard:      now,
		progressed: now,
		out:        make(chan frame, 4),
		done:       make(chan struct{}),
	}
	m.wg.Add(3)
	go m.ping()
	go m.read()
	go m.write()
	return m, nil
}

// Plan returns the values and bounds the Monitor runs with.
func (m *Monitor) Plan() Plan { return m.plan }

// Done is closed when the link has ended: the peer failed, or Close was
// called. Err says which.
func (m *Monitor) Done() <-chan struct{} { return m.done }

// Err is nil while the link is up. Once Done is closed it is a *PeerError
// (matching ErrUnreachable, ErrUnresponsive or ErrNoProgress), ErrClosed
// after Close, or an error matching ErrBadFrame if the peer does not speak
// this protocol.
func (m *Monitor) Err() error {
	select {
	case <-m.done:
	default:
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Beat tells the peer that this end's work loop made progress. It is cheap
// (one atomic add) and safe from any goroutine; the count travels in the
// next ping or answer. A peer with Config.Progress set fails the link when
// no beat arrives for that long.
func (m *Monitor) Beat() { m.beats.Add(1) }

// Close ends the link, closes the connection and returns when the
// Monitor's goroutines and timer are gone. Err is then ErrClosed unless the
// link had already failed. Close is safe to call more than once.
func (m *Monitor) Close() error {
	m.fail(ErrClosed)
	m.wg.Wait()
	return nil
}

// fail ends the link with err, once: the first reason wins.
func (m *Monitor) fail(err error) {
	m.once.Do(func() {
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
		close(m.done)
		m.conn.Close() // unblocks the reader and the writer
	})
}

// send queues f for the writer; if the writer is stuck (the connection
// does not take data) the frame is moot and dropped.
func (m *Monitor) send(f frame) {
	select {
	case m.out <- f:
	default:
	}
}

// interval is one jittered ping interval.
func (m *Monitor) interval() time.Duration {
	return m.plan.MinInterval + rand.N(m.plan.MaxInterval-m.plan.MinInterval+1)
}

// ping sends pings on the jittered schedule and judges the peer. It wakes
// at the next ping or the next deadline, whichever is first; a wake later
// than LocalPause means this process was not running, and the peer is then
// given Deadline − PauseBudget from now to be heard from.
func (m *Monitor) ping() {
	defer m.wg.Done()
	now := time.Now()
	next := now.Add(rand.N(m.plan.Interval) + 1) // de-phase links made together
	due := next
	timer := time.NewTimer(next.Sub(now))
	defer timer.Stop()
	var seq uint32
	for {
		select {
		case <-m.done:
			return
		case <-timer.C:
		}
		now = time.Now()
		if late := now.Sub(due); late > m.plan.LocalPause {
			m.excuse(now)
		}
		if !now.Before(next) {
			seq++
			m.send(frame{kind: kindPing, seq: seq, beats: m.beats.Load()})
			next = now.Add(m.interval())
		}
		var err error
		if due, err = m.judge(now, next); err != nil {
			m.fail(err)
			return
		}
		timer.Reset(due.Sub(now))
	}
}

// excuse moves the peer's clocks as if it had been heard a pause budget
// ago: it has Deadline − PauseBudget (the longest ping interval and the
// round-trip allowance) from now to be heard from, time for the answers
// that reached this host while this process was stopped to be read, and
// for a fresh ping to be answered.
func (m *Monitor) excuse(now time.Time) {
	grace := m.plan.Deadline - m.plan.PauseBudget
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := now.Add(grace - m.plan.Deadline); h.After(m.heard) {
		m.heard = h
	}
	if m.plan.Progress > 0 {
		if p := now.Add(grace - m.plan.Progress); p.After(m.progressed) {
			m.progressed = p
		}
	}
}

// judge fails the peer whose deadline has passed, or returns when to wake
// next: the next ping or a deadline, whichever is first.
func (m *Monitor) judge(now, next time.Time) (time.Time, error) {
	m.mu.Lock()
	heard, progressed := m.heard, m.progressed
	m.mu.Unlock()
	if silent := now.Sub(heard); silent >= m.plan.Deadline {
		kind := ErrUnresponsive
		if reachable, known := kernelReachable(m.conn, m.plan.MaxInterval); known && !reachable {
			kind = ErrUnreachable
		}
		return time.Time{}, &PeerError{Kind: kind, Silent: silent}
	}
	wake := next
	if d := heard.Add(m.plan.Deadline); d.Before(wake) {
		wake = d
	}
	if m.plan.Progress > 0 {
		stuck := now.Sub(progressed)
		if stuck >= m.plan.Progress {
			return time.Time{}, &PeerError{Kind: ErrNoProgress, Silent: stuck}
		}
		if d := progressed.Add(m.plan.Progress); d.Before(wake) {
			wake = d
		}
	}
	return wake, nil
}

// read takes the peer's frames, answers its pings at once (off the work
// path: whatever the program's own goroutines are doing) and notes when the
// peer was last heard and last made progress.
func (m *Monitor) read() {
	defer m.wg.Done()
	buf := make([]byte, frameSize)
	for {
		if _, err := io.ReadFull(m.conn, buf); err != nil {
			m.fail(&PeerError{Kind: ErrUnreachable, Silent: m.silence(), Err: err})
			return
		}
		f, err := decodeFrame(buf)
		if err != nil {
			m.fail(err)
			return
		}
		now := time.Now()
		m.mu.Lock()
		m.heard = now
		if f.beats != m.peerBeats {
			m.peerBeats, m.progressed = f.beats, now
		}
		m.mu.Unlock()
		if f.kind == kindPing {
			m.send(frame{kind: kindPong, seq: f.seq, beats: m.beats.Load()})
		}
	}
}

func (m *Monitor) silence() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return time.Since(m.heard)
}

// write sends the queued frames.
func (m *Monitor) write() {
	defer m.wg.Done()
	buf := make([]byte, frameSize)
	for {
		var f frame
		select {
		case <-m.done:
			return
		case f = <-m.out:
		}
		f.encode(buf)
		if _, err := m.conn.Write(buf); err != nil {
			m.fail(&PeerError{Kind: ErrUnreachable, Silent: m.silence(), Err: err})
			return
		}
	}
}
