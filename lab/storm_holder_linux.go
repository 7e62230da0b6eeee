package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/storm"
)

// StormHolderEnv, set in its environment, makes a process started with
// StormConfig.Holder a storm holder: RunStormHolder. The flatline binary
// runs it as `flatline lab storm holder`; a test binary's TestMain calls it
// when it finds this variable set.
const StormHolderEnv = "FLATLINE_LAB_STORM_HOLDER"

// holderConns is the most connections one holder process takes: both
// ends of each are its descriptors, well within the 20,000 a process may
// have on a machine whose hard limit cannot be raised.
const holderConns = 4000

// holderSpec is what a holder is told on its first line of input.
type holderSpec struct {
	ClientNS, ServerNS string // network namespace paths
	Addr               string // the server address this holder listens on and dials
	Strategy           storm.Strategy
	Config             flatline.Config // for the flatline strategy: what Configure applies
	Keepalive          storm.Keepalive // for the other strategies
	Plans              []storm.Plan    // one per connection, the other strategies
	Conns              int
}

// holderConn is one connection's story as the holder tells it: CLOCK_MONOTONIC
// times in nanoseconds, DeadAt -1 while alive.
type holderConn struct {
	Created, Armed, Idle, DeadAt int64
	TimedOut                     bool // the read ended with ETIMEDOUT
}

// holderReply is a holder's answer to a step.
type holderReply struct {
	Opened int          `json:",omitempty"`
	Armed  int          `json:",omitempty"`
	Conns  []holderConn `json:",omitempty"`
	Err    string       `json:",omitempty"`
}

// RunStormHolder is one storm holder process: it reads a spec from in,
// listens in the server namespace, opens its connections from the client
// namespace without keepalive and answers on out when they are open; on
// "arm" it sets every connection's keepalive as the strategy says, all at
// once, and watches each for the kernel's verdict; on "report" it writes
// what happened to each; at the end of in it closes them and returns.
// Holding the connections apart from the run lets a storm exceed one
// process's descriptor limit.
func RunStormHolder(ctx context.Context, in io.Reader, out io.Writer) error {
	r := bufio.NewReader(in)
	enc := json.NewEncoder(out)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("storm holder: read spec: %w", err)
	}
	var spec holderSpec
	if err := json.Unmarshal(line, &spec); err != nil {
		return fmt.Errorf("storm holder: spec: %w", err)
	}
	if spec.Conns < 1 || spec.Conns > holderConns || (spec.Strategy != storm.Flatline && len(spec.Plans) != spec.Conns) {
		return fmt.Errorf("storm holder: %d connections with %d plans: want 1 to %d, a plan each", spec.Conns, len(spec.Plans), holderConns)
	}
	h := &holder{spec: spec}
	defer h.close()
	if err := h.open(ctx); err != nil {
		enc.Encode(holderReply{Err: err.Error()})
		return err
	}
	enc.Encode(holderReply{Opened: len(h.conns)})
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil // the run is over
		}
		switch line {
		case "arm\n":
			h.arm()
			enc.Encode(holderReply{Armed: len(h.conns)})
		case "report\n":
			enc.Encode(holderReply{Conns: h.report()})
		default:
			return fmt.Errorf("storm holder: unknown step %q", line)
		}
	}
}

// holder is one holder process's connections.
type holder struct {
	spec   holderSpec
	ln     net.Listener
	srv    []net.Conn
	conns  []net.Conn
	mu     sync.Mutex // guards state: the re-arm timers and the watchers write it
	state  []holderConn
	timers []*time.Timer
}

func now() int64 {
	m, _ := storm.Monotonic()
	return int64(m)
}

// open listens, dials every connection (keepalive off) and waits until the
// server side accepted them all.
func (h *holder) open(ctx context.Context) error {
	if err := ensureFiles(2*h.spec.Conns + 64); err != nil {
		return err
	}
	if err := kernel.InNetNS(h.spec.ServerNS, func() error {
		var err error
		h.ln, err = (&net.ListenConfig{KeepAlive: -1}).Listen(ctx, "tcp", h.spec.Addr)
		return err
	}); err != nil {
		return err
	}
	accepted := make(chan error, 1)
	go func() {
		for range h.spec.Conns {
			c, err := h.ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			h.srv = append(h.srv, c)
		}
		accepted <- nil
	}()
	h.conns = make([]net.Conn, h.spec.Conns)
	h.state = make([]holderConn, h.spec.Conns)
	const workers = 4
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			errs[w] = kernel.InNetNS(h.spec.ClientNS, func() error {
				d := &net.Dialer{KeepAlive: -1}
				for i := w; i < h.spec.Conns; i += workers {
					c, err := d.DialContext(ctx, "tcp", h.spec.Addr)
					if err != nil {
						return err
					}
					h.conns[i] = c
					h.state[i] = holderConn{Created: now(), Armed: -1, Idle: int64(h.spec.Keepalive.Idle), DeadAt: -1}
				}
				return nil
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	select {
	case err := <-accepted:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("server accepted %d of %d connections in 30s", len(h.srv), h.spec.Conns)
	}
}

// arm sets every connection's keepalive at once, as the strategy says, and
// starts watching each: a read returns only when the kernel ends it.
func (h *holder) arm() {
	const workers = 2
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(h.conns); i += workers {
				h.armOne(i)
			}
		})
	}
	wg.Wait()
	for i, c := range h.conns {
		go func() {
			buf := make([]byte, 1)
			_, err := c.Read(buf)
			at := now()
			h.mu.Lock()
			h.state[i].DeadAt, h.state[i].TimedOut = at, errors.Is(err, syscall.ETIMEDOUT)
			h.mu.Unlock()
		}()
	}
}

func (h *holder) armOne(i int) {
	c, k := h.conns[i], h.spec.Keepalive
	if h.spec.Strategy == storm.Flatline {
		err := flatline.Configure(c, h.spec.Config)
		h.mu.Lock()
		if err == nil {
			h.state[i].Armed = now()
		}
		h.mu.Unlock()
		return
	}
	p := h.spec.Plans[i]
	err := control(c, func(fd int) error {
		return kernel.SetOptions(fd, kernel.Options{KeepAlive: true, Idle: p.Idle, Interval: k.Interval, Count: k.Count, UserTimeout: k.UserTimeout})
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state[i].Idle = int64(p.Idle)
	if err != nil {
		return
	}
	h.state[i].Armed = now()
	if p.Delay > 0 {
		h.timers = append(h.timers, time.AfterFunc(p.Delay, func() {
			_ = control(c, kernel.Rearm)
			h.mu.Lock()
			h.state[i].Armed = now()
			h.mu.Unlock()
		}))
	}
}

func (h *holder) report() []holderConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]holderConn(nil), h.state...)
}

func (h *holder) close() {
	h.mu.Lock()
	for _, t := range h.timers {
		t.Stop()
	}
	h.mu.Unlock()
	for _, c := range h.conns {
		if c != nil {
			c.Close()
		}
	}
	for _, c := range h.srv {
		c.Close()
	}
	if h.ln != nil {
		h.ln.Close()
	}
}

// holders are the holder processes of one round, as the run sees them.
type holders struct {
	procs []*holderProc
}

type holderProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *json.Decoder
	first int // index of its first connection in the round
	n     int
}

// startHolders starts enough holder processes for n connections (at most
// holderConns each), each listening on its own port from port on, and
// hands each its share of the plans.
func (s *stormSetup) startHolders(st storm.Strategy, port uint16, plans []storm.Plan) (*holders, error) {
	if len(s.cfg.Holder) == 0 {
		return nil, errors.New("storm: StormConfig.Holder is empty: nothing to start the connection holders with")
	}
	n := s.cfg.Conns
	count := (n + holderConns - 1) / holderConns
	hs := &holders{}
	for j := range count {
		first, last := j*n/count, (j+1)*n/count
		spec := holderSpec{
			ClientNS: s.topo.Client.Path, ServerNS: s.topo.Server.Path,
			Addr:     net.JoinHostPort(s.topo.ServerAddr.String(), fmt.Sprint(int(port)+j)),
			Strategy: st, Config: s.cfg.Config, Keepalive: s.k, Conns: last - first,
		}
		if st != storm.Flatline {
			spec.Plans = plans[first:last]
		}
		p, err := startHolder(s.cfg.Holder, spec)
		if err != nil {
			hs.close()
			return nil, err
		}
		p.first, p.n = first, last-first
		hs.procs = append(hs.procs, p)
	}
	return hs, nil
}

func startHolder(argv []string, spec holderSpec) (*holderProc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), StormHolderEnv+"=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("storm: start holder %v: %w", argv, err)
	}
	p := &holderProc{cmd: cmd, in: in, out: json.NewDecoder(out)}
	b, err := json.Marshal(spec)
	if err == nil {
		_, err = in.Write(append(b, '\n'))
	}
	if err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// step sends a step to every holder (all first, then reads the answers,
// so that they act together) and returns the answers.
func (hs *holders) step(ctx context.Context, step string) ([]holderReply, error) {
	for _, p := range hs.procs {
		if step != "" {
			if _, err := io.WriteString(p.in, step+"\n"); err != nil {
				return nil, fmt.Errorf("storm: holder %d: %w", p.cmd.Process.Pid, err)
			}
		}
	}
	replies := make([]holderReply, len(hs.procs))
	errs := make([]error, len(hs.procs))
	var wg sync.WaitGroup
	for i, p := range hs.procs {
		wg.Go(func() {
			if err := p.out.Decode(&replies[i]); err != nil {
				errs[i] = fmt.Errorf("storm: holder %d: %w", p.cmd.Process.Pid, err)
			} else if replies[i].Err != "" {
				errs[i] = fmt.Errorf("storm: holder %d: %s", p.cmd.Process.Pid, replies[i].Err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		hs.close() // ends the readers
		<-done
		return nil, ctx.Err()
	}
	return replies, errors.Join(errs...)
}

// report gathers every connection's story, in the round's order.
func (hs *holders) report(ctx context.Context, n int) ([]holderConn, error) {
	replies, err := hs.step(ctx, "report")
	if err != nil {
		return nil, err
	}
	all := make([]holderConn, n)
	for i, p := range hs.procs {
		if len(replies[i].Conns) != p.n {
			return nil, fmt.Errorf("storm: holder %d reported %d connections, want %d", p.cmd.Process.Pid, len(replies[i].Conns), p.n)
		}
		copy(all[p.first:], replies[i].Conns)
	}
	return all, nil
}

func (hs *holders) close() {
	for _, p := range hs.procs {
		p.close()
	}
}

func (p *holderProc) close() {
	if p.in != nil {
		p.in.Close()
		p.in = nil
	}
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}
