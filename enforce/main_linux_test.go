package enforce_test

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// goClientEnv makes the test binary a client with Go's zero net.Dialer:
// "mode address" (see runGoClient).
const goClientEnv = "FLATLINE_ENFORCE_GO_CLIENT"

func TestMain(m *testing.M) {
	if spec := os.Getenv(goClientEnv); spec != "" {
		f := strings.Fields(spec)
		if len(f) != 2 {
			fmt.Fprintf(os.Stderr, "bad %s %q\n", goClientEnv, spec)
			os.Exit(2)
		}
		runGoClient(f[0], f[1])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runGoClient is the Go twin of pyClient: the same modes, the same lines.
// Its dialer is Go's zero net.Dialer (keepalive 15 s/15 s/9 after
// connect), but for two modes: "strict" sets pyClient's stricter idle
// (1 s) and user timeout (1000 ms) before connecting and no keepalive of
// Go's, and "quiet" sets nothing at all; both then idle.
func runGoClient(mode, addr string) {
	d := &net.Dialer{}
	switch mode {
	case "strict":
		d = &net.Dialer{KeepAlive: -1, Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 1)
				unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 1000)
			})
		}}
	case "quiet":
		d = &net.Dialer{KeepAlive: -1}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		fmt.Println("dead", err)
		return
	}
	fmt.Println("connected", goOptions(c.(*net.TCPConn)))
	switch mode {
	case "idle", "strict", "quiet":
		_, err = c.Read(make([]byte, 1))
	case "sending":
		buf := make([]byte, 1024)
		for err == nil {
			_, err = c.Write(buf)
			time.Sleep(50 * time.Millisecond)
		}
	case "loosen":
		rc, _ := c.(*net.TCPConn).SyscallConn()
		rc.Control(func(fd uintptr) {
			for _, o := range loosened {
				unix.SetsockoptInt(int(fd), o[0], o[1], o[2])
			}
		})
		fmt.Println("loosened", goOptions(c.(*net.TCPConn)))
		return
	}
	fmt.Println("dead", err)
}

// loosened are the looser values the loosen mode sets: keepalive off, a
// 10 min idle, 1 min interval, 20 probes, no user timeout.
var loosened = [][3]int{
	{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 600},
	{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 60},
	{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 20},
	{unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 0},
	{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0},
}

func goOptions(c *net.TCPConn) string {
	rc, _ := c.SyscallConn()
	var s string
	rc.Control(func(fd uintptr) {
		g := func(l, o int) int { v, _ := unix.GetsockoptInt(int(fd), l, o); return v }
		s = fmt.Sprintf("ka=%d idle=%d intvl=%d cnt=%d ut=%d",
			g(unix.SOL_SOCKET, unix.SO_KEEPALIVE), g(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE),
			g(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL), g(unix.IPPROTO_TCP, unix.TCP_KEEPCNT),
			g(unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT))
	})
	return s
}

// pyClient is a client that sets no socket option of its own: it connects,
// prints its options, then idles in recv, sends 1 KiB every 50 ms, or sets
// the loosened values and prints its options again. When the connection
// fails it prints "dead" and the error. Mode "strict" first sets a
// stricter idle (1 s) and user timeout (1000 ms) before connecting, then
// idles; "stricter" sets keepalive 1 s/1 s/2 and a 2500 ms user timeout,
// then idles; "closeonbyte" closes its socket when a byte arrives, prints
// "closed" and stays alive; "manyN" opens N connections, prints each one's options and
// ports (local, remote), and holds them until its standard input ends.
const pyClient = `
import socket, sys, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
T = socket.IPPROTO_TCP
def opts(s):
    g = s.getsockopt
    return "ka=%d idle=%d intvl=%d cnt=%d ut=%d" % (g(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        g(T, socket.TCP_KEEPIDLE), g(T, socket.TCP_KEEPINTVL), g(T, socket.TCP_KEEPCNT), g(T, 18))
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
if mode.startswith("many"):
    conns = []
    for i in range(int(mode[4:])):
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.connect((host, port))
        conns.append(c)
        print("connected", opts(c), "ports=%d,%d" % (c.getsockname()[1], c.getpeername()[1]), flush=True)
    sys.stdin.read()
    sys.exit(0)
s = socket.socket(fam, socket.SOCK_STREAM)
if mode == "strict":
    s.setsockopt(T, socket.TCP_KEEPIDLE, 1)
    s.setsockopt(T, 18, 1000)
if mode == "stricter":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for o, v in [(socket.TCP_KEEPIDLE, 1), (socket.TCP_KEEPINTVL, 1), (socket.TCP_KEEPCNT, 2), (18, 2500)]:
        s.setsockopt(T, o, v)
try:
    s.connect((host, port))
except OSError as e:
    print("dead", e, flush=True); sys.exit(0)
print("connected", opts(s), flush=True)
try:
    if mode in ("idle", "stricter"):
        s.recv(1)
        print("dead eof", flush=True)
    elif mode == "closeonbyte":
        s.recv(1)
        s.close()
        print("closed", flush=True)
        time.sleep(3600)
    elif mode == "sending":
        while True:
            s.sendall(b"x" * 1024)
            time.sleep(0.05)
    elif mode == "loosen":
        for l, o, v in [(T, socket.TCP_KEEPIDLE, 600), (T, socket.TCP_KEEPINTVL, 60), (T, socket.TCP_KEEPCNT, 20), (T, 18, 0), (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)]:
            s.setsockopt(l, o, v)
        print("loosened", opts(s), flush=True)
except OSError as e:
    print("dead", e, flush=True)
`
