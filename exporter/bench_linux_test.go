package exporter_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline/diag"
	"github.com/flatline-dev/flatline/exporter"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/vishvananda/netlink"
)

// benchConns is how many loopback connections (twice as many sockets)
// BenchmarkScrape20k holds in a namespace of its own;
// FLATLINE_EXPORTER_BENCH_CONNS overrides it.
const benchConns = 10000

// benchHolders share the connections: each holds both ends of
// benchConns/benchHolders, well within a process's descriptor limit.
const benchHolders = 4

// benchHolderEnv makes the test binary a bench holder of that many
// connections: it prints READY and keeps them until stdin closes.
const benchHolderEnv = "FLATLINE_EXPORTER_BENCH_HOLDER"

func benchHolderMain(n int) error {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
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
	runtime.KeepAlive(client)
	runtime.KeepAlive(server)
	return nil
}

// BenchmarkScrape20k compares, on one set of 20,000 sockets in one run,
// what Prometheus pays per scrape of flatline exporter (a cached scan
// served over HTTP) with what the exporter pays once per interval (a full
// diag.Scan of the namespace: owners, options, verdicts), and with what
// a per-scrape collector pays: node_exporter's tcpstat counting states
// from an inet_diag dump or from /proc/net/tcp{,6}, and ss. It prints a
// table at the end. Needs root.
//
//	go test ./exporter -run '^$' -bench Scrape20k -benchtime 10x
func BenchmarkScrape20k(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: a private network namespace and 20,000 sockets")
	}
	n := benchConns
	if v, err := strconv.Atoi(os.Getenv("FLATLINE_EXPORTER_BENCH_CONNS")); err == nil && v > 0 {
		n = v
	}
	name, path := testutil.NetNS(b, "exporter-bench")
	startBenchHolders(b, path, n)

	e, err := exporter.New(exporter.Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()

	type row struct {
		name, when string
		per        time.Duration
		out        string
	}
	var rows []row
	run := func(label, when string, fn func() (string, error)) {
		var out string
		b.Run(label, func(b *testing.B) {
			for b.Loop() {
				o, err := fn()
				if err != nil {
					b.Fatal(err)
				}
				out = o
			}
			rows = append(rows, row{label, when, b.Elapsed() / time.Duration(b.N), out})
		})
	}
	run("exporter-scrape", "per scrape", func() (string, error) {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		nb, err := io.Copy(io.Discard, resp.Body)
		return fmt.Sprintf("%d bytes, whole host", nb), err
	})
	run("exporter-scan", "per interval", func() (string, error) {
		r, err := diag.Scan(context.Background(), diag.Options{NetNS: path})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d sockets judged", len(r.Sockets)), nil
	})
	run("tcpstat-inet_diag", "per scrape", func() (string, error) {
		r, err := diag.Scan(context.Background(), diag.Options{NetNS: path, NoOwners: true, NoOptions: true})
		if err != nil {
			return "", err
		}
		states := map[diag.TCPState]int{}
		for _, s := range r.Sockets {
			states[s.State]++
		}
		return fmt.Sprintf("%d sockets counted by state", len(r.Sockets)), nil
	})
	run("tcpstat-proc-net-tcp", "per scrape", func() (string, error) {
		var states [16]int
		err := kernel.InNetNS(path, func() error {
			for _, f := range []string{"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"} {
				if err := countProcNetTCP(f, &states); err != nil {
					return err
				}
			}
			return nil
		})
		total := 0
		for _, c := range states {
			total += c
		}
		return fmt.Sprintf("%d sockets counted by state", total), err
	})
	if ss, err := exec.LookPath("ss"); err == nil {
		for _, args := range []string{"-tan", "-tnoi"} {
			run("ss"+args, "per scrape", func() (string, error) {
				out, err := exec.Command(ss, "-N", name, args).Output()
				lines := 0
				for _, l := range strings.Split(string(out), "\n") {
					if l != "" && !strings.HasPrefix(l, "\t") {
						lines++
					}
				}
				return fmt.Sprintf("%d lines", lines), err
			})
		}
	} else {
		b.Log("ss not installed (iproute2): no ss rows")
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\n%d connections (%d sockets)\tpaid\tcost\toutput\n", n, 2*n)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", r.name, r.when, r.per.Round(10*time.Microsecond), r.out)
	}
	tw.Flush()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		fmt.Printf("peak RSS of this process (exporter, scans, HTTP client): %d MiB\n", ru.Maxrss>>10)
	}
}

// countProcNetTCP counts a /proc/net/tcp file's sockets by state, as
// node_exporter's tcpstat collector did before it moved to netlink.
func countProcNetTCP(path string, states *[16]int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		st, err := strconv.ParseUint(fields[3], 16, 8)
		if err != nil || st >= 16 {
			return fmt.Errorf("%s: state %q", path, fields[3])
		}
		states[st]++
	}
	return sc.Err()
}

// startBenchHolders starts benchHolders processes in the namespace at
// path holding n connections between them, and waits until they are.
func startBenchHolders(b *testing.B, path string, n int) {
	b.Helper()
	err := kernel.InNetNS(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
	if err != nil {
		b.Fatal(err)
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
			b.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := kernel.InNetNS(path, cmd.Start); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { in.Close(); cmd.Wait() })
		go func() {
			sc := bufio.NewScanner(out)
			if sc.Scan() && sc.Text() == "READY" {
				ready <- nil
				io.Copy(io.Discard, out)
				return
			}
			ready <- fmt.Errorf("bench holder %d ended before READY", cmd.Process.Pid)
		}()
	}
	deadline := time.After(2 * time.Minute)
	for range benchHolders {
		select {
		case err := <-ready:
			if err != nil {
				b.Fatal(err)
			}
		case <-deadline:
			b.Fatal("bench holders not ready after 2 minutes")
		}
	}
}
