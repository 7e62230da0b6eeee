package liveness_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/liveness"
)

// peer is this test binary re-executed as a liveness peer process.
type peer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // what it says: "ready", then "end <Err>"
	conn  net.Conn    // our end of its link
}

// startPeer starts a peer process whose Monitor runs with peerTimeout,
// listening (with dialIn, if set, entering a namespace) on listenAddr.
func startPeer(t *testing.T, peerTimeout time.Duration, listen func() (net.Listener, error), start func(*exec.Cmd) error) *peer {
	t.Helper()
	ln, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s", peerEnv, ln.Addr(), peerTimeout))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := start(cmd); err != nil {
		t.Fatal(err)
	}
	p := &peer{cmd: cmd, stdin: stdin, lines: make(chan string, 4)}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			p.lines <- s.Text()
		}
		close(p.lines)
	}()
	if l := p.line(t, 10*time.Second); l != "ready" {
		t.Fatalf("peer said %q, want ready", l)
	}
	if tl, ok := ln.(*net.TCPListener); ok {
		tl.SetDeadline(time.Now().Add(10 * time.Second))
	}
	if p.conn, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *peer) line(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatal("peer exited without a word")
		}
		return l
	case <-time.After(within):
		t.Fatalf("peer said nothing within %v", within)
	}
	return ""
}

func (p *peer) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// loopback listens on 127.0.0.1 with flatline's settings for timeout t.
func loopback(timeout time.Duration) func() (net.Listener, error) {
	return func() (net.Listener, error) {
		lc := flatline.ListenConfig{Config: flatline.Config{Timeout: max(timeout, flatline.MinTimeout)}}
		return lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	}
}

// TestFrozenPeerProcess: a peer process stopped with SIGSTOP keeps its
// kernel acknowledging everything; the link fails as unresponsive within T
// and not before the pause budget.
func TestFrozenPeerProcess(t *testing.T) {
	const timeout = 3 * time.Second
	p := startPeer(t, time.Minute, loopback(timeout), (*exec.Cmd).Start)
	m := start(t, p.conn, liveness.Config{Timeout: timeout})
	defer m.Close()
	plan := m.Plan()

	p.signal(t, syscall.SIGSTOP)
	frozen := time.Now()
	select {
	case <-m.Done():
	case <-time.After(plan.Timeout + schedSlack):
		t.Fatalf("frozen peer not reported within %v + %v", plan.Timeout, schedSlack)
	}
	took := time.Since(frozen)
	err := m.Err()
	if !errors.Is(err, liveness.ErrUnresponsive) {
		t.Fatalf("Err = %v, want ErrUnresponsive", err)
	}
	if took <= plan.PauseBudget {
		t.Errorf("reported %v after the freeze, within the pause budget %v", took, plan.PauseBudget)
	}
	t.Logf("frozen peer reported %v after SIGSTOP (T %v, budget %v): %v", took, plan.Timeout, plan.PauseBudget, err)
}

// TestPeerPauseWithinBudget: a peer process stopped for less than the pause
// budget, then continued, is never reported, and does not report us.
func TestPeerPauseWithinBudget(t *testing.T) {
	const timeout = 3 * time.Second
	p := startPeer(t, timeout, loopback(timeout), (*exec.Cmd).Start)
	m := start(t, p.conn, liveness.Config{Timeout: timeout})
	defer m.Close()
	plan := m.Plan()
	pause := plan.PauseBudget * 8 / 10

	for range 2 {
		p.signal(t, syscall.SIGSTOP)
		cont := time.AfterFunc(pause, func() { p.cmd.Process.Signal(syscall.SIGCONT) })
		select {
		case <-m.Done():
			cont.Stop()
			t.Fatalf("a %v pause (budget %v) was reported: %v", pause, plan.PauseBudget, m.Err())
		case <-time.After(pause + plan.Timeout):
		}
	}
	p.stdin.Close()
	if l := p.line(t, 10*time.Second); l != "end "+liveness.ErrClosed.Error() {
		t.Errorf("the paused peer ended with %q, want it closed by us", l)
	}
}

// TestLocalPauseGuard: a process that was itself stopped for longer than
// its deadline does not accuse its peer when it resumes.
func TestLocalPauseGuard(t *testing.T) {
	const peerTimeout = 3 * time.Second
	// Our own Monitor is patient: only the peer process's judgment is tested.
	p := startPeer(t, peerTimeout, loopback(peerTimeout), (*exec.Cmd).Start)
	m := start(t, p.conn, liveness.Config{Timeout: time.Minute})
	defer m.Close()

	p.signal(t, syscall.SIGSTOP)
	stopped := 2 * peerTimeout // well past its deadline
	time.AfterFunc(stopped, func() { p.cmd.Process.Signal(syscall.SIGCONT) })
	select {
	case l := <-p.lines:
		t.Fatalf("the stopped process said %q", l)
	case <-time.After(stopped + 2*peerTimeout):
	}
	if err := m.Err(); err != nil {
		t.Errorf("our end: %v", err)
	}
	p.stdin.Close()
	if l := p.line(t, 10*time.Second); l != "end "+liveness.ErrClosed.Error() {
		t.Errorf("after its own %v stop the process ended with %q, want no accusation", stopped, l)
	}
}
