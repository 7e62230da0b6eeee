package diag

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
)

// processCost is what one run of a whole process cost: wall time from
// start to exit, CPU time (user + system, from the child's rusage) and
// peak resident memory (rusage's ru_maxrss).
type processCost struct {
	wall, cpu time.Duration
	maxRSSKB  int64
}

// runCost runs argv (in the network namespace at path when inNS) with
// its output discarded and returns its cost. Where GNU time is installed
// the peak RSS is the one it reads of the tool: time forks the tool
// with fork(2), so the tool's peak starts from time's few hundred KB,
// where a child of this process (Go starts children with vfork, and exec
// keeps the peak of the memory it replaces) cannot read below this
// benchmark's own.
func runCost(argv []string, path string, inNS bool) (processCost, error) {
	var rssFile string
	if gnuTime, err := exec.LookPath("time"); err == nil {
		f, err := os.CreateTemp("", "flatline-rss-")
		if err != nil {
			return processCost{}, err
		}
		f.Close()
		defer os.Remove(f.Name())
		rssFile = f.Name()
		argv = append([]string{gnuTime, "-f", "%M", "-o", rssFile}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	start := time.Now()
	var err error
	if inNS {
		err = kernel.InNetNS(path, cmd.Run)
	} else {
		err = cmd.Run()
	}
	wall := time.Since(start)
	if err != nil {
		return processCost{}, fmt.Errorf("%v: %w", argv, err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return processCost{}, fmt.Errorf("%v: no rusage", argv)
	}
	// time's own CPU is a few hundred microseconds; its child's is
	// included (wait4 reports a process with its reaped children).
	c := processCost{wall: wall, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), maxRSSKB: ru.Maxrss}
	if rssFile != "" {
		b, err := os.ReadFile(rssFile)
		if err != nil {
			return processCost{}, err
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return processCost{}, fmt.Errorf("%v: time wrote no peak RSS", argv)
		}
		kb, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		if err != nil {
			return processCost{}, fmt.Errorf("%v: time's peak RSS %q: %w", argv, b, err)
		}
		c.maxRSSKB = kb
	}
	return c, nil
}

func medianOf[T int64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkInspectVsSS times whole processes on the same namespace, side
// by side in one run: `flatline inspect --json --netns NAME` and the table
// (every socket's options and owner read: in the kernel by the BPF
// iterators where they load, else through pidfd_getfd and /proc),
// `ss -tnoi` (neither options nor owners: ss cannot read options) and
// `ss -tnoip` (owners through /proc), started in the namespace; on an
// empty namespace and at 10,000 and 20,000 established loopback
// connections. The tools take turns, run after run (at least 5 runs, more
// with -benchtime), so that load from other processes falls on all of
// them alike. It prints, per tool, the medians of wall time, CPU time
// (user + system of the child, from its rusage) and peak RSS (GNU
// time's %M where it is installed, else ru_maxrss),
// and the ratios to ss -tnoi. It builds the flatline binary first. Needs
// root, ss and the go tool.
//
//	go test ./diag -run '^$' -bench InspectVsSS -benchtime 5x
func BenchmarkInspectVsSS(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: a private network namespace and 40,000 descriptors")
	}
	ss, err := exec.LookPath("ss")
	if err != nil {
		b.Skip("ss not installed (iproute2): nothing to compare with")
	}
	bin := filepath.Join(b.TempDir(), "flatline")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/flatline").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	type row struct {
		conns int
		name  string
		cost  processCost
	}
	var rows []row
	for _, n := range []int{0, 10000, 20000} {
		name, path := testutil.NetNS(b, "bench")
		stop := func() {}
		if n > 0 {
			stop = testutil.HoldConnections(b, path, n)
		}
		tools := []struct {
			name string
			argv []string
			inNS bool
		}{
			{"flatline inspect --json", []string{bin, "inspect", "--json", "--netns", name}, false},
			{"flatline inspect (table)", []string{bin, "inspect", "--netns", name}, false},
			{"ss -tnoi", []string{ss, "-tnoi"}, true},
			{"ss -tnoip", []string{ss, "-tnoip"}, true},
		}
		costs := make([][]processCost, len(tools))
		round := func(b *testing.B) {
			for i, tool := range tools {
				c, err := runCost(tool.argv, path, tool.inNS)
				if err != nil {
					b.Fatal(err)
				}
				costs[i] = append(costs[i], c)
			}
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				round(b)
			}
			for len(costs[0]) < 5 {
				round(b)
			}
		})
		for i, tool := range tools {
			var wall, cpu []time.Duration
			var rss []int64
			for _, c := range costs[i] {
				wall, cpu, rss = append(wall, c.wall), append(cpu, c.cpu), append(rss, c.maxRSSKB)
			}
			if len(wall) > 0 {
				rows = append(rows, row{n, tool.name, processCost{medianOf(wall), medianOf(cpu), medianOf(rss)}})
			}
		}
		stop()
	}
	// A child started from this process reports at least this process's
	// own peak as its ru_maxrss: Go starts children with vfork, and exec
	// keeps the peak of the memory it replaces. Below it, the table says
	// so instead of a figure.
	var self syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	floor := self.Maxrss
	if _, err := exec.LookPath("time"); err == nil {
		floor = 0 // read through GNU time: no floor
	}
	rss := func(kb int64) string {
		if kb <= floor+1024 {
			return fmt.Sprintf("≤ %.1f MB", float64(floor+1024)/1024)
		}
		return fmt.Sprintf("%.1f MB", float64(kb)/1024)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\nconnections\twhole process (medians)\twall\tCPU\tpeak RSS\twall/ss\tCPU/ss\t\n")
	ssCost := map[int]processCost{}
	for _, r := range rows {
		if r.name == "ss -tnoi" {
			ssCost[r.conns] = r.cost
		}
	}
	for _, r := range rows {
		ss0 := ssCost[r.conns]
		fmt.Fprintf(tw, "%d\t%s\t%v\t%v\t%s\t%.2f\t%.2f\t\n", r.conns, r.name,
			r.cost.wall.Round(time.Millisecond), r.cost.cpu.Round(time.Millisecond), rss(r.cost.maxRSSKB),
			float64(r.cost.wall)/float64(max(ss0.wall, 1)), float64(r.cost.cpu)/float64(max(ss0.cpu, 1)))
	}
	tw.Flush()
	if floor > 0 {
		fmt.Printf("(GNU time not installed: a child's peak RSS reads at least this benchmark's own, %.1f MB: ≤ marks those at that floor)\n", float64(floor)/1024)
	}
}

// BenchmarkInspectParts splits a scan of a namespace with 10,000
// established loopback connections (20,000 sockets) into its parts, in
// one process, each timed on its own (wall time; medians over the runs):
// opening the target (the namespace's sysctls and loading the BPF
// iterators: kernel BTF, verifier, attach), the scan (one walk of the
// sockets by the socket iterator, with their options; the owners over
// every process's descriptors; the verdicts, the sort and the summary),
// and writing the JSON and the table. The process's own start (the Go
// runtime and package initialisers) is `flatline --help`'s cost in
// BenchmarkInspectVsSS's terms, printed first.
//
//	go test ./diag -run '^$' -bench InspectParts -benchtime 5x
func BenchmarkInspectParts(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: a private network namespace and 20,000 descriptors")
	}
	bin := filepath.Join(b.TempDir(), "flatline")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/flatline").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	name, cleanup := benchNamespace(b, 10000)
	defer cleanup()
	parts := []string{"process start (flatline --help)", "open: sysctls, BTF, load and attach the iterators",
		"scan: the sockets with their options, owners, verdicts, sort", "write JSON", "write the table"}
	times := make([][]time.Duration, len(parts))
	var sockets int
	for b.Loop() {
		c, err := runCost([]string{bin, "--help"}, "", false)
		if err != nil {
			b.Fatal(err)
		}
		times[0] = append(times[0], c.wall)
		o := Options{NetNS: name}
		lap := time.Now()
		next := func(i int) {
			now := time.Now()
			times[i] = append(times[i], now.Sub(lap))
			lap = now
		}
		t, err := openTarget(o)
		if err != nil {
			b.Fatal(err)
		}
		next(1)
		r, err := t.scan(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		next(2)
		if err := r.WriteJSON(io.Discard); err != nil {
			b.Fatal(err)
		}
		next(3)
		if err := r.WriteText(io.Discard); err != nil {
			b.Fatal(err)
		}
		next(4)
		t.conn.Close()
		t.kopts.close()
		sockets = r.Summary.Total
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\n%d sockets: part\tmedian\t\n", sockets)
	for i, p := range parts {
		if len(times[i]) > 0 {
			fmt.Fprintf(tw, "%s\t%v\t\n", p, medianOf(times[i]).Round(100*time.Microsecond))
		}
	}
	tw.Flush()
}
