package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/liveness"
	"golang.org/x/sys/unix"
)

// soakSpecPrefix starts EndpointEnv for a soak's processes:
//
//	soak server CONFIG TIMEOUT PORT
//	soak client CONFIG WORKLOAD TIMEOUT ADDR PORT CONNS DURATION
type soakSpec struct {
	role     string // "server" or "client"
	config   ConfigName
	workload SoakWorkload
	timeout  time.Duration
	addr     netip.Addr
	port     uint16 // data; the heartbeat listens on port+1
	conns    int
	duration time.Duration
}

const soakSpecPrefix = "soak "

func (s soakSpec) String() string {
	if s.role == "server" {
		return fmt.Sprintf("%sserver %s %s %d", soakSpecPrefix, s.config, s.timeout, s.port)
	}
	return fmt.Sprintf("%sclient %s %s %s %s %d %d %s", soakSpecPrefix, s.config, s.workload, s.timeout, s.addr, s.port, s.conns, s.duration)
}

// parseSoakSpec reads a spec after soakSpecPrefix, bounded like the
// command line that made it.
func parseSoakSpec(spec string) (soakSpec, error) {
	f := strings.Fields(spec)
	bad := func(what string) (soakSpec, error) {
		return soakSpec{}, fmt.Errorf("lab soak endpoint: bad spec %q: %s", spec, what)
	}
	if len(f) < 4 {
		return bad("too few fields")
	}
	s := soakSpec{role: f[0], config: ConfigName(f[1])}
	if !soakConfig(s.config) {
		return bad("unknown configuration")
	}
	port := func(v string) (uint16, error) {
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil || p == 0 || p == 65535 {
			return 0, errors.New("bad port")
		}
		return uint16(p), nil
	}
	var err error
	switch {
	case s.role == "server" && len(f) == 4:
		if s.timeout, err = time.ParseDuration(f[2]); err != nil || s.timeout <= 0 {
			return bad("bad timeout")
		}
		if s.port, err = port(f[3]); err != nil {
			return bad(err.Error())
		}
		return s, nil
	case s.role == "client" && len(f) == 8:
	default:
		return bad("want server CONFIG TIMEOUT PORT or client CONFIG WORKLOAD TIMEOUT ADDR PORT CONNS DURATION")
	}
	s.workload = SoakWorkload(f[2])
	if s.workload != SoakIdle && s.workload != SoakTrickle {
		return bad("unknown workload")
	}
	if s.timeout, err = time.ParseDuration(f[3]); err != nil || s.timeout <= 0 {
		return bad("bad timeout")
	}
	if s.addr, err = netip.ParseAddr(f[4]); err != nil {
		return bad("bad address")
	}
	if s.port, err = port(f[5]); err != nil {
		return bad(err.Error())
	}
	if s.conns, err = strconv.Atoi(f[6]); err != nil || s.conns < 1 || s.conns > maxSoakConns {
		return bad("bad connection count")
	}
	if s.duration, err = time.ParseDuration(f[7]); err != nil || s.duration <= 0 || s.duration > 24*time.Hour {
		return bad("bad duration")
	}
	return s, nil
}

// runSoakEndpoint is a soak's server or client process.
func runSoakEndpoint(ctx context.Context, spec string, out io.Writer) error {
	s, err := parseSoakSpec(spec)
	if err != nil {
		return err
	}
	if err := raiseFiles(); err != nil {
		return err
	}
	if s.role == "server" {
		return runSoakServer(ctx, s, out)
	}
	return runSoakClient(ctx, s, out)
}

// raiseFiles raises the soft RLIMIT_NOFILE to the hard limit.
func raiseFiles() error {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("lab soak: %w", os.NewSyscallError("getrlimit", err))
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
			return fmt.Errorf("lab soak: %w", os.NewSyscallError("setrlimit", err))
		}
	}
	return nil
}

// runSoakServer is a plain echo server (no keepalive, no user timeout: it
// never gives up on a client, so every kill is the client's) at s.port,
// and for the heartbeat a liveness.Monitor on every connection at
// s.port+1. It writes "ready" and serves until ctx ends.
func runSoakServer(ctx context.Context, s soakSpec, out io.Writer) error {
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, "tcp", fmt.Sprintf(":%d", s.port))
	if err != nil {
		return err
	}
	defer ln.Close()
	go acceptAll(ln, func(c net.Conn) { io.Copy(c, c) })
	if s.config == FlatlineHeartbeat {
		hb, err := lc.Listen(ctx, "tcp", fmt.Sprintf(":%d", s.port+1))
		if err != nil {
			return err
		}
		defer hb.Close()
		go acceptAll(hb, func(c net.Conn) {
			m, err := liveness.New(c, liveness.Config{Timeout: s.timeout})
			if err != nil {
				c.Close()
				return
			}
			<-m.Done()
		})
	}
	if _, err := io.WriteString(out, "ready\n"); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func acceptAll(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serve(c)
	}
}

// soakReport is what a soak client process prints last, as one JSON line
// after "result ".
type soakReport struct {
	Opened      int        `json:"opened"`
	DialFailed  int        `json:"dial_failed"`
	HeldS       float64    `json:"held_s"`
	Kills       []soakKill `json:"kills"`
	Retransmits uint64     `json:"retransmits"`
	SegsOut     uint64     `json:"segs_out"`
}

type soakKill struct {
	AtS   float64 `json:"at_s"` // from the group's start
	Cause string  `json:"cause"`
}

// soakUnit is one connection of a soak client: the data connection and,
// for the heartbeat, its monitored companion.
type soakUnit struct {
	c      net.Conn
	hb     *liveness.Monitor
	opened time.Duration
}

// runSoakClient dials s.conns connections, prints "open N", holds them
// for s.duration running the workload, prints "dead" for every kill as it
// happens and then "result {json}".
func runSoakClient(ctx context.Context, s soakSpec, out io.Writer) error {
	start := time.Now()
	var outMu sync.Mutex
	say := func(format string, a ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, format+"\n", a...)
	}
	units, failed, err := dialSoak(ctx, s, start)
	if err != nil {
		return err
	}
	defer func() {
		for _, u := range units {
			u.c.Close()
			if u.hb != nil {
				u.hb.Close()
			}
		}
	}()
	say("open %d %d", len(units), failed)
	rep := soakReport{Opened: len(units), DialFailed: failed}
	var mu sync.Mutex
	stopped := false
	kill := func(cause string) {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		at := time.Since(start).Seconds()
		rep.Kills = append(rep.Kills, soakKill{AtS: at, Cause: cause})
		say("dead %.3f %s", at, cause)
	}
	for _, u := range units {
		watchSoak(ctx, u, s.workload, kill)
	}
	end := time.NewTimer(s.duration)
	defer end.Stop()
	select {
	case <-end.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	mu.Lock()
	stopped = true
	mu.Unlock()
	held := time.Since(start)
	for _, u := range units {
		rep.HeldS += (held - u.opened).Seconds() / float64(len(units))
		if info := tcpInfo(u.c); info != nil {
			rep.Retransmits += uint64(info.Total_retrans)
			rep.SegsOut += uint64(info.Segs_out)
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	say("result %s", b)
	return nil
}

// dialSoak opens s.conns connections with 16 dialers at once. A dial the
// lossy path defeats (every SYN lost) is counted, not fatal.
func dialSoak(ctx context.Context, s soakSpec, start time.Time) ([]*soakUnit, int, error) {
	dial, err := dialer(s.config, s.timeout)
	if err != nil {
		return nil, 0, err
	}
	addr := netip.AddrPortFrom(s.addr, s.port).String()
	hbAddr := netip.AddrPortFrom(s.addr, s.port+1).String()
	units := make([]*soakUnit, s.conns)
	var failed int
	var mu sync.Mutex
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < s.conns; i += workers {
				u, err := dialUnit(ctx, s, dial, addr, hbAddr)
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				u.opened = time.Since(start)
				units[i] = u
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	opened := units[:0]
	for _, u := range units {
		if u != nil {
			opened = append(opened, u)
		}
	}
	if len(opened) == 0 {
		return nil, failed, fmt.Errorf("lab soak: none of %d connections to %s could be opened", s.conns, addr)
	}
	return opened, failed, nil
}

func dialUnit(ctx context.Context, s soakSpec, dial func(context.Context, string, string) (net.Conn, error), addr, hbAddr string) (*soakUnit, error) {
	dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := dial(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	u := &soakUnit{c: c}
	if s.config != FlatlineHeartbeat {
		return u, nil
	}
	hc, err := dial(dctx, "tcp", hbAddr)
	if err != nil {
		c.Close()
		return nil, err
	}
	if u.hb, err = liveness.New(hc, liveness.Config{Timeout: s.timeout}); err != nil {
		c.Close()
		hc.Close()
		return nil, err
	}
	return u, nil
}

// watchSoak runs the workload on u and reports its first failure to kill:
// a read or write error on the data connection, or the heartbeat's.
func watchSoak(ctx context.Context, u *soakUnit, w SoakWorkload, kill func(cause string)) {
	var once sync.Once
	fail := func(cause string) {
		once.Do(func() {
			if ctx.Err() == nil {
				kill(cause)
			}
		})
	}
	dataFail := func(err error) { fail(flatline.Diagnose(u.c, err).String()) }
	go func() {
		r := bufio.NewReader(u.c)
		buf := make([]byte, TrickleSize)
		for {
			if _, err := io.ReadFull(r, buf); err != nil {
				dataFail(err)
				return
			}
		}
	}()
	if w == SoakTrickle {
		go func() {
			// A random phase, so the writes of a group spread over the period.
			t := time.NewTimer(rand.N(TricklePeriod))
			defer t.Stop()
			msg := make([]byte, TrickleSize)
			for {
				select {
				case <-t.C:
				case <-ctx.Done():
					return
				}
				if _, err := u.c.Write(msg); err != nil {
					dataFail(err)
					return
				}
				t.Reset(TricklePeriod)
			}
		}()
	}
	if u.hb != nil {
		go func() {
			<-u.hb.Done()
			err := u.hb.Err()
			if errors.Is(err, liveness.ErrClosed) {
				return
			}
			cause, ok := heartbeatCause(err)
			if !ok {
				cause = "heartbeat"
			}
			fail(cause)
		}()
	}
}
