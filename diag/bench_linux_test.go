package diag

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
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

// benchNamespace makes a named namespace with n established loopback
// connections held by child processes (testutil.HoldConnections: four of
// them, each within the 20,000 descriptors a process may have here), and
// returns its name and a cleanup that ends them; the namespace goes when
// the benchmark ends.
func benchNamespace(b *testing.B, n int) (string, func()) {
	name, path := testutil.NetNS(b, "bench")
	return name, testutil.HoldConnections(b, path, n)
}
