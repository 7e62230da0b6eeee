package exporter

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
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
// namespace (no options, no owners). It prints the medians of wall time,
// CPU time (this process's for the scans, the children's for ss) and peak
// RSS: for the scans, this process's (VmHWM, reset before each after the
// Go heap's free pages are returned; "from" is what it held then, the
// test binary and what the earlier runs left); for ss, the largest of its
// 100 processes' (GNU time's %M, whose own CPU, under a millisecond a
// run, is counted in ss's; without GNU time the column is empty). Needs
// root and ss.
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
	var ssPeakKB int64
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
			ssPeakKB = 0
			for _, p := range paths {
				kb, err := runPeak(p, ss, "-tnoi")
				if err != nil {
					return 0, err
				}
				ssPeakKB = max(ssPeakKB, kb)
			}
			return namespaces * 2 * conns, nil
		}},
	}
	wall := make([][]time.Duration, len(ways))
	cpu := make([][]time.Duration, len(ways))
	peak, base := make([][]int64, len(ways)), make([][]int64, len(ways))
	sockets := make([]int, len(ways))
	round := func(b *testing.B) {
		for i, w := range ways {
			from, err := resetPeakRSS()
			if err != nil {
				b.Fatal(err)
			}
			self0, kids0 := rusageCPU(unix.RUSAGE_SELF), rusageCPU(unix.RUSAGE_CHILDREN)
			start := time.Now()
			n, err := w.run()
			if err != nil {
				b.Fatalf("%s: %v", w.name, err)
			}
			wall[i] = append(wall[i], time.Since(start))
			cpu[i] = append(cpu[i], rusageCPU(unix.RUSAGE_SELF)-self0+rusageCPU(unix.RUSAGE_CHILDREN)-kids0)
			kb, err := statusKB("VmHWM")
			if err != nil {
				b.Fatal(err)
			}
			if i == len(ways)-1 { // ss: its processes', not this one's
				kb, from = ssPeakKB, 0
			}
			peak[i], base[i] = append(peak[i], kb), append(base[i], from)
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
	fmt.Fprintf(tw, "\n%d namespaces × %d sockets (medians of %d)\twall\tCPU\tpeak RSS\t(from)\tper namespace\tsockets\t\n", namespaces, 2*conns, len(wall[0]))
	mb := func(kb int64) string {
		if kb <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f MB", float64(kb)/1024)
	}
	for i, w := range ways {
		m := median(wall[i])
		fmt.Fprintf(tw, "%s\t%v\t%v\t%s\t%s\t%v\t%d\t\n", w.name, m.Round(time.Millisecond), median(cpu[i]).Round(time.Millisecond),
			mb(median(peak[i])), mb(median(base[i])), (m / namespaces).Round(10*time.Microsecond), sockets[i])
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

// resetPeakRSS returns the Go heap's free pages to the kernel and resets
// this process's peak RSS to what it holds now (clear_refs 5, Linux 4.0),
// so that statusKB("VmHWM") reads the peak of what runs next; it returns
// what the process holds then (VmRSS, KiB).
func resetPeakRSS() (int64, error) {
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return 0, err
	}
	return statusKB("VmRSS")
}

// statusKB is a field of /proc/self/status counted in kB (VmHWM: the
// peak RSS; VmRSS: the RSS now).
func statusKB(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// runPeak runs argv in the network namespace at path, its output
// discarded, and returns its peak RSS in KiB as GNU time reads it (time
// forks it: its peak starts from time's, not this process's); 0 when GNU
// time is not installed.
func runPeak(path string, argv ...string) (int64, error) {
	gnuTime, err := exec.LookPath("time")
	if err != nil {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout = io.Discard
		return 0, kernel.InNetNS(path, cmd.Run)
	}
	f, err := os.CreateTemp("", "flatline-rss-")
	if err != nil {
		return 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", f.Name()}, argv...)...)
	cmd.Stdout = io.Discard
	if err := kernel.InNetNS(path, cmd.Run); err != nil {
		return 0, fmt.Errorf("%v: %w", argv, err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return 0, err
	}
	fs := strings.Fields(string(b))
	if len(fs) == 0 {
		return 0, fmt.Errorf("%v: GNU time wrote no peak RSS", argv)
	}
	return strconv.ParseInt(fs[len(fs)-1], 10, 64)
}

func median[T int64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
