package diag

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
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

	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the outside program holding sockets with
// known options: TestMain runs helperMain when helperEnv is set. The
// helper runs in a network namespace of its own (CLONE_NEWNET), so it is a
// real --pid target in another namespace, read with pidfd_getfd.
const (
	helperEnv   = "FLATLINE_DIAG_HELPER"    // comma-separated scenarios
	parentNSEnv = "FLATLINE_DIAG_PARENT_NS" // the test's netns inode: the helper refuses to run there
	scanEnv     = "FLATLINE_DIAG_SCAN"      // run Scan in the current namespace and print its JSON
)

func TestMain(m *testing.M) {
	testutil.HolderMain()
	switch {
	case os.Getenv(helperEnv) != "":
		err := helperMain(os.Getenv(helperEnv))
		var mf *missingFeature
		if errors.As(err, &mf) {
			fmt.Printf("SKIP %v\n", err)
			os.Exit(0)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case os.Getenv(scanEnv) != "":
		r, err := Scan(context.Background(), Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "scan:", err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(r)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// scenario is one client socket the helper opens, with the options it sets.
type scenario struct {
	keepalive       bool
	idle, intvl     int // seconds
	count           int
	userTimeoutMS   int
	blackhole       bool // drop client→server packets once established
	writeAtStart    bool // write 1000 bytes at once (into the blackhole)
	fillWindow      bool // the server never reads; the client writes until blocked
	smallServerBufs bool
	connectSynCount int // > 0: a non-blocking connect into a blackhole with this TCP_SYNCNT
	// dropLater: the blackhole comes on the "drop NAME" command, which
	// then writes 100 bytes if writeOnDrop; the helper prints
	// "DIED NAME UNIXNANO ERR" when a read on the client fails.
	dropLater, writeOnDrop bool
}

var scenarios = map[string]scenario{
	"ka-idle":  {keepalive: true, idle: 2, intvl: 1, count: 2},
	"no-ka":    {},
	"ut":       {keepalive: true, idle: 5, intvl: 1, count: 3, userTimeoutMS: 8000},
	"stuck":    {keepalive: true, idle: 2, intvl: 1, count: 2, blackhole: true, writeAtStart: true},
	"stuck-ut": {keepalive: true, idle: 5, intvl: 1, count: 3, userTimeoutMS: 20000, blackhole: true, writeAtStart: true},
	"zero-win": {keepalive: true, idle: 2, intvl: 1, count: 2, fillWindow: true, smallServerBufs: true},
	"flip":     {keepalive: true, idle: 2, intvl: 1, count: 2, blackhole: true},
	"syn-sent": {connectSynCount: 3},
	"die-idle": {keepalive: true, idle: 2, intvl: 1, count: 2, dropLater: true},
	"die-send": {keepalive: true, idle: 5, intvl: 1, count: 3, userTimeoutMS: 3000, dropLater: true, writeOnDrop: true},
}

// helperSocket is what the helper reports about one scenario's client.
type helperSocket struct {
	Local, Remote string
	FD            int
}

func netnsIno(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

func helperMain(list string) error {
	self, err := netnsIno("/proc/self/ns/net")
	if err != nil {
		return err
	}
	if fmt.Sprint(self) == os.Getenv(parentNSEnv) {
		return errors.New("still in the test's network namespace: refusing to touch it")
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return err
	}
	out := map[string]helperSocket{}
	conns := map[string]net.Conn{}
	ports := map[string]int{}
	var servers []net.Conn // kept open, never read
	for _, name := range strings.Split(list, ",") {
		sc, ok := scenarios[name]
		if !ok {
			return fmt.Errorf("unknown scenario %q", name)
		}
		if sc.connectSynCount > 0 {
			hs, err := connectIntoBlackhole(name, sc.connectSynCount)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			out[name] = hs
			continue
		}
		lc := net.ListenConfig{KeepAlive: -1}
		if sc.smallServerBufs {
			lc.Control = func(_, _ string, rc syscall.RawConn) error {
				var serr error
				rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
				return serr
			}
		}
		ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		d := net.Dialer{KeepAlive: -1, Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = setScenario(int(fd), sc) })
			return errors.Join(err, serr)
		}}
		c, err := d.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return err
		}
		s, err := ln.Accept()
		if err != nil {
			return err
		}
		ln.Close()
		servers = append(servers, s)
		if sc.blackhole {
			if err := dropPort(name, ln.Addr().(*net.TCPAddr).Port); err != nil {
				return fmt.Errorf("nftables drop rule: %w", err)
			}
		}
		fd := -1
		rc, _ := c.(*net.TCPConn).SyscallConn()
		rc.Control(func(f uintptr) { fd = int(f) })
		out[name] = helperSocket{Local: c.LocalAddr().String(), Remote: c.RemoteAddr().String(), FD: fd}
		conns[name] = c
		ports[name] = ln.Addr().(*net.TCPAddr).Port
		if sc.dropLater {
			go func() { // reports when the kernel gives up on the connection
				_, err := c.Read(make([]byte, 1))
				fmt.Printf("DIED %s %d %v\n", name, time.Now().UnixNano(), err)
			}()
		}
		if sc.writeAtStart {
			if _, err := c.Write(make([]byte, 1000)); err != nil {
				return err
			}
		}
		if sc.fillWindow {
			go func() { // blocks once both buffers are full
				buf := make([]byte, 64<<10)
				for {
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			}()
		}
	}
	b, _ := json.Marshal(out)
	fmt.Printf("%s\nREADY\n", b)
	// Commands: "write NAME" writes 100 bytes on that client, "drop NAME"
	// turns its blackhole on (and writes if the scenario says so); EOF
	// ends.
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if name, ok := strings.CutPrefix(in.Text(), "write "); ok && conns[name] != nil {
			conns[name].Write(make([]byte, 100))
			fmt.Println("WROTE")
		}
		if name, ok := strings.CutPrefix(in.Text(), "drop "); ok && conns[name] != nil {
			if err := dropPort(name, ports[name]); err != nil {
				return err
			}
			if scenarios[name].writeOnDrop {
				conns[name].Write(make([]byte, 100))
			}
			fmt.Println("DROPPED")
		}
	}
	// Unreferenced, the server ends' finalizers would close them.
	runtime.KeepAlive(servers)
	return nil
}

// connectIntoBlackhole starts a non-blocking connect to a port whose
// packets are dropped: the socket stays in SYN-SENT.
func connectIntoBlackhole(name string, synCount int) (helperSocket, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return helperSocket{}, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := dropPort(name, port); err != nil {
		return helperSocket{}, err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return helperSocket{}, err
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_SYNCNT, synCount); err != nil {
		return helperSocket{}, err
	}
	err = unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	if !errors.Is(err, unix.EINPROGRESS) {
		return helperSocket{}, fmt.Errorf("connect: %v, want EINPROGRESS", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return helperSocket{}, err
	}
	local := sa.(*unix.SockaddrInet4)
	return helperSocket{Local: fmt.Sprintf("127.0.0.1:%d", local.Port), Remote: fmt.Sprintf("127.0.0.1:%d", port), FD: fd}, nil
}

func setScenario(fd int, sc scenario) error {
	set := func(level, opt, v int) error { return unix.SetsockoptInt(fd, level, opt, v) }
	if sc.keepalive {
		if err := errors.Join(
			set(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, sc.idle),
			set(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, sc.intvl),
			set(unix.IPPROTO_TCP, unix.TCP_KEEPCNT, sc.count),
			set(unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1),
		); err != nil {
			return err
		}
	}
	if sc.userTimeoutMS > 0 {
		if err := set(unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, sc.userTimeoutMS); err != nil {
			return err
		}
	}
	if sc.fillWindow {
		return set(unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	}
	return nil
}

// dropPort drops every TCP packet to port on this (the helper's own)
// namespace's input path, loopback included. Not on output: a packet
// dropped by netfilter on the sender's own output path fails the send,
// and TCP then arms the zero-window probe timer (persist) instead of the
// retransmission timer, unlike any loss on the wire.
func dropPort(name string, port int) error {
	ns, err := os.Open("/proc/self/ns/net")
	if err != nil {
		return err
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Fd())))
	if err != nil {
		return &missingFeature{"nftables", err}
	}
	tab := c.AddTable(&nftables.Table{Name: "flt-diag-" + name, Family: nftables.TableFamilyINet})
	accept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: "in", Table: tab, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	c.AddRule(&nftables.Rule{Table: tab, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, uint16(port))},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}})
	if err := c.Flush(); err != nil {
		return &missingFeature{"nftables", err}
	}
	return nil
}

// missingFeature is a kernel feature the helper needs and lacks: the
// test skips instead of failing.
type missingFeature struct {
	what string
	err  error
}

func (e *missingFeature) Error() string { return e.what + ": " + e.err.Error() }
func (e *missingFeature) Unwrap() error { return e.err }

// helper is a running helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
	socks map[string]helperSocket
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and reads other processes' sockets")
	}
}

// startHelper runs the helper with the given scenarios in a new network
// namespace and waits (at most 10 s) until its sockets are set up. The
// helper and its namespace end when the test does.
func startHelper(t *testing.T, names ...string) *helper {
	t.Helper()
	requireRoot(t)
	parent, err := netnsIno("/proc/self/ns/net")
	if err != nil {
		t.Skipf("cannot read own network namespace: %v", err)
	}
	cmd, stdin, stdout := testutil.StartInNewNetNS(t, helperEnv+"="+strings.Join(names, ","), fmt.Sprintf("%s=%d", parentNSEnv, parent))
	h := &helper{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan error, 1)
	go func() {
		var js string
		for h.lines.Scan() {
			if h.lines.Text() == "READY" {
				ready <- json.Unmarshal([]byte(js), &h.socks)
				return
			}
			if reason, ok := strings.CutPrefix(h.lines.Text(), "SKIP "); ok {
				ready <- &missingFeature{"helper", errors.New(reason)}
				return
			}
			js = h.lines.Text()
		}
		ready <- fmt.Errorf("helper ended before READY: %v", h.lines.Err())
	}()
	select {
	case err := <-ready:
		var mf *missingFeature
		if errors.As(err, &mf) {
			t.Skipf("kernel feature missing in the helper's namespace: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("helper not ready after 10 s")
	}
	return h
}

// write asks the helper to write on scenario name's client and waits for
// it to confirm.
func (h *helper) write(t *testing.T, name string) { h.command(t, "write", name, "WROTE") }

// drop asks the helper to turn scenario name's blackhole on and waits for
// it to confirm.
func (h *helper) drop(t *testing.T, name string) { h.command(t, "drop", name, "DROPPED") }

func (h *helper) command(t *testing.T, verb, name, ack string) {
	t.Helper()
	if _, err := fmt.Fprintf(h.stdin, "%s %s\n", verb, name); err != nil {
		t.Fatal(err)
	}
	if !h.lines.Scan() || h.lines.Text() != ack {
		t.Fatalf("helper did not confirm %s %s: %q %v", verb, name, h.lines.Text(), h.lines.Err())
	}
}

func (h *helper) pid() int { return h.cmd.Process.Pid }

// waitFor scans until ok returns true or the deadline passes, polling
// every 50 ms, and returns the last report.
func waitFor(t *testing.T, o Options, within time.Duration, ok func(*Report) bool) *Report {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := Scan(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", within)
		}
		<-tick.C
	}
}

// find returns the socket with the given local and remote address.
func find(r *Report, hs helperSocket) *Socket {
	for i := range r.Sockets {
		s := &r.Sockets[i]
		if s.Local.String() == hs.Local && s.Remote.String() == hs.Remote {
			return s
		}
	}
	return nil
}
