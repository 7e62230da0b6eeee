package exporter_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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
)

// benchConns is how many loopback connections (twice as many sockets)
// BenchmarkScrape20k holds in a namespace of its own;
// FLATLINE_EXPORTER_BENCH_CONNS overrides it.
const benchConns = 10000

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
	testutil.HoldConnections(b, path, n)

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
