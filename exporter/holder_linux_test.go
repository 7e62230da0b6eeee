package exporter_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/cli"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the programs the integration test needs:
// with holderEnv set it holds sockets with known options (the outside
// program of the issue), with cliEnv set it is `flatline exporter`.
const (
	holderEnv = "FLATLINE_EXPORTER_HOLDER"  // "parent" or "child"
	cliEnv    = "FLATLINE_EXPORTER_CLI"     // run cli.Run with the test binary's arguments after "--"
	badEnv    = "FLATLINE_EXPORTER_BADNAME" // name this process with bytes that are not UTF-8 and hold sockets
)

func TestMain(m *testing.M) {
	testutil.HolderMain()
	switch {
	case os.Getenv(holderEnv) != "":
		if err := holderMain(os.Getenv(holderEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "holder:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case os.Getenv(badEnv) != "":
		if err := badNameMain(); err != nil {
			fmt.Fprintln(os.Stderr, "bad name:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case os.Getenv(cliEnv) != "":
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		os.Exit(cli.Run(args, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// keepalive is a socket's known options: SO_KEEPALIVE with these
// TCP_KEEPIDLE / TCP_KEEPINTVL (whole seconds) / TCP_KEEPCNT, or off when
// Idle is zero.
type keepalive struct{ idle, intvl, count int }

func (k keepalive) settings() flatline.Settings {
	return flatline.Settings{KeepAlive: k.idle > 0, Idle: time.Duration(k.idle) * time.Second,
		Interval: time.Duration(k.intvl) * time.Second, Count: k.count}
}

// The pairs the holders open over loopback in their namespace, both ends
// with the same options. The parent holds "never" and "slow", the child
// (a second process in the same namespace) "ok", "fragile" and "victim".
var pairs = map[string]keepalive{
	"never":   {},         // keepalive off: a silent peer is never noticed
	"slow":    {20, 5, 3}, // 35 s: over the test's 10 s budget
	"ok":      {2, 1, 2},  // 4 s
	"fragile": {2, 1, 1},  // 3 s, but one lost probe kills it
	"victim":  {1, 1, 2},  // 3 s; the test partitions it
}

var holderPairs = map[string][]string{"parent": {"never", "slow"}, "child": {"ok", "fragile", "victim"}}

// holderMain opens role's pairs, starts the child holder when it is the
// parent, prints "READY ROLE PID PORTS" (PORTS: name=port,...), and keeps
// the sockets until stdin closes. When a victim's client read fails it
// prints "DIED victim ERR".
func holderMain(role string) error {
	if role == "parent" {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
	}
	var keep []net.Conn
	var ports []string
	for _, name := range holderPairs[role] {
		k := pairs[name]
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		d := net.Dialer{KeepAlive: -1}
		c, err := d.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return err
		}
		s, err := ln.Accept()
		if err != nil {
			return err
		}
		ln.Close()
		for _, conn := range []net.Conn{c, s} {
			if err := setKeepalive(conn.(*net.TCPConn), k); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		keep = append(keep, c, s)
		ports = append(ports, fmt.Sprintf("%s=%d", name, ln.Addr().(*net.TCPAddr).Port))
		if name == "victim" {
			go func() {
				_, err := c.Read(make([]byte, 1))
				fmt.Printf("DIED victim %v\n", err)
			}()
		}
	}
	var child *exec.Cmd
	var childIn io.WriteCloser
	if role == "parent" {
		child = exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), holderEnv+"=child")
		child.Stdout, child.Stderr = os.Stdout, os.Stderr
		child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		var err error
		if childIn, err = child.StdinPipe(); err != nil {
			return err
		}
		if err := child.Start(); err != nil {
			return err
		}
	}
	fmt.Printf("READY %s %d %s\n", role, os.Getpid(), strings.Join(ports, ","))
	io.Copy(io.Discard, os.Stdin)
	if child != nil {
		childIn.Close()
		child.Wait()
	}
	runtime.KeepAlive(keep) // unreferenced, finalizers would close them
	return nil
}

func setKeepalive(c *net.TCPConn, k keepalive) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		set := func(level, opt, v int) error { return unix.SetsockoptInt(int(fd), level, opt, v) }
		if k.idle == 0 {
			serr = set(unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0)
			return
		}
		serr = errors.Join(
			set(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, k.idle),
			set(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, k.intvl),
			set(unix.IPPROTO_TCP, unix.TCP_KEEPCNT, k.count),
			set(unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1))
	})
	return errors.Join(err, serr)
}

// holders is the running parent holder and what both holders said.
type holders struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	pids  map[string]int // role → pid
	ports map[string]int // pair → server port
	lines chan string    // lines after READY
}

// scanReady reads holder output until both READY lines, then forwards
// the rest to h.lines.
func (h *holders) scanReady(out io.Reader, ready chan<- error) {
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "READY" {
			var pid int
			fmt.Sscan(f[2], &pid)
			h.pids[f[1]] = pid
			for _, kv := range strings.Split(f[3], ",") {
				name, port, _ := strings.Cut(kv, "=")
				var p int
				fmt.Sscan(port, &p)
				h.ports[name] = p
			}
			if len(h.pids) == 2 {
				ready <- nil
				break
			}
			continue
		}
		ready <- fmt.Errorf("holder said %q before READY", sc.Text())
		return
	}
	if len(h.pids) < 2 {
		ready <- fmt.Errorf("holders ended before READY: %v", sc.Err())
		return
	}
	for sc.Scan() {
		h.lines <- sc.Text()
	}
	close(h.lines)
}
