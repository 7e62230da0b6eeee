package diag

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/vishvananda/netlink"
)

// benchConns is how many established loopback connections
// BenchmarkScan20k holds open (twice as many sockets) in a private
// namespace; FLATLINE_DIAG_BENCH_CONNS overrides it.
const benchConns = 20000

// BenchmarkScan20k compares, on one set of connections in one run: a full
// Scan with owners and options, without options, inet_diag alone, the
// same dump by `ss -tnoi` and with processes by `ss -tnoip`, and reading
// and parsing /proc/net/tcp{,6}.
// It prints a table at the end. Needs root.
//
//	go test ./diag -run '^$' -bench Scan20k -benchtime 5x
func BenchmarkScan20k(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: a private network namespace and 40,000 descriptors")
	}
	n := benchConns
	if v, err := strconv.Atoi(os.Getenv("FLATLINE_DIAG_BENCH_CONNS")); err == nil && v > 0 {
		n = v
	}
	name, cleanup := benchNamespace(b, n)
	defer cleanup()
	path := "/var/run/netns/" + name

	type row struct {
		name string
		per  time.Duration
		rows int
	}
	var rows []row
	run := func(label string, fn func() (int, error)) {
		var count int
		b.Run(label, func(b *testing.B) {
			for b.Loop() {
				c, err := fn()
				if err != nil {
					b.Fatal(err)
				}
				count = c
			}
			rows = append(rows, row{label, b.Elapsed() / time.Duration(b.N), count})
		})
	}
	scan := func(o Options) func() (int, error) {
		return func() (int, error) {
			o.NetNS = name
			r, err := Scan(context.Background(), o)
			if err != nil {
				return 0, err
			}
			return len(r.Sockets), nil
		}
	}
	run("diag-full", scan(Options{}))
	run("diag-no-options", scan(Options{NoOptions: true}))
	run("diag-inet_diag-only", scan(Options{NoOptions: true, NoOwners: true}))
	if ss, err := exec.LookPath("ss"); err == nil {
		for _, args := range []string{"-tnoi", "-tnoip"} {
			run("ss"+args, func() (int, error) {
				var lines int
				err := kernel.InNetNS(path, func() error {
					cmd := exec.Command(ss, args)
					out, err := cmd.StdoutPipe()
					if err != nil {
						return err
					}
					if err := cmd.Start(); err != nil {
						return err
					}
					sc := bufio.NewScanner(out)
					sc.Buffer(make([]byte, 64<<10), 16<<20)
					for sc.Scan() {
						if !strings.HasPrefix(sc.Text(), "\t") {
							lines++
						}
					}
					return cmd.Wait()
				})
				return lines - 1, err
			})
		}
	} else {
		b.Log("ss not installed (iproute2): no ss rows")
	}
	run("proc-net-tcp", func() (int, error) {
		var count int
		err := kernel.InNetNS(path, func() error {
			for _, f := range []string{"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"} {
				c, err := parseProcNetTCP(f)
				if err != nil {
					return err
				}
				count += c
			}
			return nil
		})
		return count, err
	})

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\n%d connections (%d sockets)\tper scan\tsockets seen\t\n", n, 2*n)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%v\t%d\t\n", r.name, r.per.Round(100*time.Microsecond), r.rows)
	}
	tw.Flush()
}

// procSocket is one line of /proc/net/tcp: what it offers for comparison
// (no tcp_info, no options).
type procSocket struct {
	local, remote string
	state         uint64
	timer         uint64
	retrans       uint64
	inode         uint64
}

// parseProcNetTCP reads and parses a /proc/net/tcp file, the alternative
// to inet_diag, and returns how many sockets it holds.
func parseProcNetTCP(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	if _, err := r.ReadString('\n'); err != nil {
		return 0, err
	}
	var n int
	var s procSocket
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		fl := strings.Fields(line)
		if len(fl) < 10 {
			continue
		}
		s.local, s.remote = fl[1], fl[2]
		s.state, _ = strconv.ParseUint(fl[3], 16, 8)
		tm, _, _ := strings.Cut(fl[5], ":")
		s.timer, _ = strconv.ParseUint(tm, 16, 8)
		s.retrans, _ = strconv.ParseUint(fl[6], 16, 32)
		s.inode, _ = strconv.ParseUint(fl[9], 10, 64)
		n++
	}
}

// benchHolders is how many processes hold the benchmark's connections:
// both ends of n/benchHolders connections each, within the 20,000
// descriptors a process may have here (RLIMIT_NOFILE, and raising it
// needs CAP_SYS_RESOURCE).
const benchHolders = 4

// benchHolderEnv makes the test binary a holder: it opens that many
// loopback connections in its namespace, prints READY and keeps them until
// stdin closes.
const benchHolderEnv = "FLATLINE_DIAG_BENCH_HOLDER"

func benchHolderMain(n int) error {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	accepted := make(chan error, 1)
	var server []net.Conn
	go func() {
		for range n {
			c, err := l.Accept()
			if err != nil {
				accepted <- err
				return
			}
			server = append(server, c)
		}
		accepted <- nil
	}()
	d := net.Dialer{KeepAlive: -1}
	var client []net.Conn
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

// benchNamespace makes a named namespace with n established loopback
// connections held by benchHolders child processes, and returns its name
// and a cleanup that ends them and removes the namespace.
func benchNamespace(b *testing.B, n int) (string, func()) {
	name, path := testutil.NetNS(b, "bench")
	var holders []*exec.Cmd
	var stdins []io.Closer
	cleanup := func() {
		for _, in := range stdins {
			in.Close()
		}
		for _, h := range holders {
			if err := h.Wait(); err != nil {
				b.Logf("holder %d: %v", h.Process.Pid, err)
			}
		}
	}
	fail := func(err error) {
		cleanup()
		b.Fatal(err)
	}
	if err := kernel.InNetNS(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}); err != nil {
		fail(err)
	}
	ready := make(chan error, benchHolders)
	for i := range benchHolders {
		per := n / benchHolders
		if i < n%benchHolders {
			per++
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", benchHolderEnv, per))
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			fail(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			fail(err)
		}
		// Started from a thread in the namespace, the holder lives there.
		if err := kernel.InNetNS(path, cmd.Start); err != nil {
			fail(err)
		}
		holders, stdins = append(holders, cmd), append(stdins, in)
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
	for range benchHolders {
		select {
		case err := <-ready:
			if err != nil {
				fail(err)
			}
		case <-deadline:
			fail(fmt.Errorf("holders not ready after 2 minutes"))
		}
	}
	return name, cleanup
}
