package exporter

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline/diag"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
	"golang.org/x/sys/unix"
)

// BenchmarkRefreshNamespaces measures one Refresh of the whole host with
// 20 extra namespaces, each holding 10 loopback connections (a pod's
// shape), and 20 empty ones. The host's other
// namespaces are scanned too; the benchmark reports how many there were
// and the time per namespace. Needs root.
//
//	go test ./exporter -run '^$' -bench RefreshNamespaces -benchtime 5x
func BenchmarkRefreshNamespaces(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces")
	}
	const pods, empty, conns = 20, 20, 10
	for i := range pods {
		_, path := testutil.NetNS(b, fmt.Sprintf("pod%d", i))
		startHolder(b, path, conns)
	}
	for i := range empty {
		testutil.NetNS(b, fmt.Sprintf("empty%d", i))
	}
	e, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Refresh(context.Background()); err != nil { // learns which namespaces have sockets
		b.Fatal(err)
	}
	var took time.Duration
	var n int
	for b.Loop() {
		if err := e.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
		s := e.snap.Load()
		took += s.took
		n += len(s.namespaces)
	}
	b.ReportMetric(float64(n)/float64(b.N), "namespaces")
	b.ReportMetric(float64(took.Milliseconds())/float64(n), "ms/namespace")
}

// startHolder holds n loopback connections in the namespace at path
// (testutil.HoldConnections: this test binary's TestMain serves them)
// until the benchmark ends.
func startHolder(b *testing.B, path string, n int) {
	b.Helper()
	testutil.HoldConnections(b, path, n)
}

// BenchmarkScanNamespaces100 is a node's shape at scale: 100 namespaces,
// each with 100 established loopback connections (200 sockets). Side by
// side, in turn, run after run: the exporter's one pass over all of them
// (diag.ScanNamespaces: the BPF iterators loaded once, the descriptors
// walked once), the loop it replaced (diag.Scan in each namespace, every
// socket's options and owner read each time), and `ss -tnoi` run in each
// namespace (no options, no owners). It prints the medians of wall time
// and CPU time (this process's for the scans, the children's for ss).
// Needs root and ss.
//
//	go test ./exporter -run '^$' -bench ScanNamespaces100 -benchtime 5x
func BenchmarkScanNamespaces100(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces")
	}
	ss, err := exec.LookPath("ss")
	if err != nil {
		b.Skip("ss not installed (iproute2): nothing to compare with")
	}
	const namespaces, conns = 100, 100
	var names, paths []string
	for i := range namespaces {
		name, path := testutil.NetNS(b, fmt.Sprintf("node%d", i))
		startHolder(b, path, conns)
		names, paths = append(names, name), append(paths, path)
	}
	ctx := context.Background()
	o := diag.Options{}
	ways := []struct {
		name string
		run  func() (sockets int, err error)
	}{
		{"one pass (diag.ScanNamespaces)", func() (int, error) {
			reports, errs := diag.ScanNamespaces(ctx, o, names)
			n := 0
			for i, r := range reports {
				if errs[i] != nil {
					return 0, errs[i]
				}
				n += len(r.Sockets)
			}
			return n, nil
		}},
		{"diag.Scan in each", func() (int, error) {
			n := 0
			for _, name := range names {
				o := o
				o.NetNS = name
				r, err := diag.Scan(ctx, o)
				if err != nil {
					return 0, err
				}
				n += len(r.Sockets)
			}
			return n, nil
		}},
		{"ss -tnoi in each", func() (int, error) {
			for _, p := range paths {
				cmd := exec.Command(ss, "-tnoi")
				cmd.Stdout = io.Discard
				if err := kernel.InNetNS(p, cmd.Run); err != nil {
					return 0, err
				}
			}
			return namespaces * 2 * conns, nil
		}},
	}
	wall := make([][]time.Duration, len(ways))
	cpu := make([][]time.Duration, len(ways))
	sockets := make([]int, len(ways))
	round := func(b *testing.B) {
		for i, w := range ways {
			self0, kids0 := rusageCPU(unix.RUSAGE_SELF), rusageCPU(unix.RUSAGE_CHILDREN)
			start := time.Now()
			n, err := w.run()
			if err != nil {
				b.Fatalf("%s: %v", w.name, err)
			}
			wall[i] = append(wall[i], time.Since(start))
			cpu[i] = append(cpu[i], rusageCPU(unix.RUSAGE_SELF)-self0+rusageCPU(unix.RUSAGE_CHILDREN)-kids0)
			sockets[i] = n
		}
	}
	for b.Loop() {
		round(b)
	}
	for len(wall[0]) < 5 {
		round(b)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\n%d namespaces × %d sockets (medians of %d)\twall\tCPU\tper namespace\tsockets\t\n", namespaces, 2*conns, len(wall[0]))
	for i, w := range ways {
		m := median(wall[i])
		fmt.Fprintf(tw, "%s\t%v\t%v\t%v\t%d\t\n", w.name, m.Round(time.Millisecond), median(cpu[i]).Round(time.Millisecond),
			(m / namespaces).Round(10*time.Microsecond), sockets[i])
	}
	tw.Flush()
}

// rusageCPU is user + system time of who (RUSAGE_SELF or RUSAGE_CHILDREN).
func rusageCPU(who int) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(xs []time.Duration) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
