package testutil

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/vishvananda/netlink"
)

// holderEnv makes a test binary a connection holder (see HolderMain).
const holderEnv = "FLATLINE_TEST_CONN_HOLDER"

// holders share the connections: each holds both ends of n/holders,
// well within a process's descriptor limit.
const holders = 4

// HolderMain is for a package's TestMain: when the test binary was started
// by HoldConnections it opens that many loopback connections in its
// namespace, prints READY, keeps them until stdin closes and exits;
// otherwise it returns at once.
func HolderMain() {
	v := os.Getenv(holderEnv)
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err == nil {
		err = hold(n)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "holder:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func hold(n int) error {
	// Accepted connections get keepalive spread over a minute of idle
	// times: with Go's default (15 s for every one, made within a
	// second) 10,000 of them probe in lockstep, overflow the per-CPU
	// backlog and kill each other within minutes, under the benchmark.
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var server, client []net.Conn
	accepted := make(chan error, 1)
	go func() {
		for range n {
			c, err := l.Accept()
			if err != nil {
				accepted <- err
				return
			}
			i := len(server)
			if err := c.(*net.TCPConn).SetKeepAliveConfig(net.KeepAliveConfig{
				Enable: true, Idle: time.Duration(30+i%60) * time.Second, Interval: 5 * time.Second, Count: 3,
			}); err != nil {
				accepted <- err
				return
			}
			server = append(server, c)
		}
		accepted <- nil
	}()
	d := net.Dialer{KeepAlive: -1}
	for i := range n {
		c, err := d.Dial("tcp4", l.Addr().String())
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		client = append(client, c)
	}
	if err := <-accepted; err != nil {
		return err
	}
	fmt.Println("READY")
	io.Copy(io.Discard, os.Stdin)
	// Unreferenced, the connections' finalizers would close them.
	runtime.KeepAlive(client)
	runtime.KeepAlive(server)
	return nil
}

// HoldConnections brings loopback up in the namespace at path and starts
// holder processes there (the test binary again, whose TestMain calls
// HolderMain) that hold n established loopback connections between them,
// and waits until they do (two minutes at most). The holders end when
// stop is called or when tb ends, whichever comes first.
func HoldConnections(tb testing.TB, path string, n int) (stop func()) {
	tb.Helper()
	var stops []func()
	stop = sync.OnceFunc(func() {
		for _, s := range stops {
			s()
		}
	})
	tb.Cleanup(stop)
	if err := kernel.InNetNS(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}); err != nil {
		tb.Fatal(err)
	}
	ready := make(chan error, holders)
	for i := range holders {
		per := n / holders
		if i < n%holders {
			per++
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", holderEnv, per))
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			tb.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			tb.Fatal(err)
		}
		// Started from a thread in the namespace, the holder lives there.
		if err := kernel.InNetNS(path, cmd.Start); err != nil {
			tb.Fatal(err)
		}
		stops = append(stops, func() {
			in.Close()
			if err := cmd.Wait(); err != nil {
				tb.Logf("holder %d: %v", cmd.Process.Pid, err)
			}
		})
		go func() {
			sc := bufio.NewScanner(out)
			if sc.Scan() && sc.Text() == "READY" {
				ready <- nil
				io.Copy(io.Discard, out)
				return
			}
			ready <- fmt.Errorf("holder %d ended before READY", cmd.Process.Pid)
		}()
	}
	deadline := time.After(2 * time.Minute)
	for range holders {
		select {
		case err := <-ready:
			if err != nil {
				tb.Fatal(err)
			}
		case <-deadline:
			tb.Fatal("holders not ready after 2 minutes")
		}
	}
	return stop
}

// StartInNewNetNS starts the test binary again (no tests, env added to
// the environment) in a network namespace of its own that dies with it
// (CLONE_NEWNET, killed if the test process dies), with its stdin and
// stdout as pipes. It skips tb when the namespace cannot be made.
func StartInNewNetNS(tb testing.TB, env ...string) (cmd *exec.Cmd, stdin io.WriteCloser, stdout io.ReadCloser) {
	tb.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err = cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) {
			tb.Skipf("cannot create a network namespace: %v", err)
		}
		tb.Fatal(err)
	}
	return cmd, stdin, stdout
}
