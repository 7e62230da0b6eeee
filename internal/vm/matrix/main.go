// Command matrix measures flatline on several kernels: the lab's quick
// set and the root package's tests (integration tests included) on each
// Debian kernel in a qemu guest, and on the host kernel directly. It
// writes the results as data (JSON) and as a Markdown table.
//
//	go run ./internal/vm/matrix                    # 5.10, 6.1, 6.12 and the host
//	go run ./internal/vm/matrix -kernels 5.10,host
//
// Run it as root from the repository's root: it builds static binaries of
// flatline and of the root package's tests with the go command.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/vm"
	"github.com/flatline-dev/flatline/lab"
)

// Matrix is the committed data.
type Matrix struct {
	Date    string   `json:"date"`
	Command string   `json:"command"`
	Kernels []Kernel `json:"kernels"`
}

// Kernel is one kernel's results.
type Kernel struct {
	Name     string      `json:"name"`    // 5.10, 6.1, 6.12, host
	Kernel   string      `json:"kernel"`  // flatline.Host.Kernel in the guest
	Package  string      `json:"package"` // the Debian package, "" for the host
	Accel    string      `json:"accel"`   // kvm, tcg, or "" on the host
	Notes    []string    `json:"notes"`   // flatline.KernelNotes
	Lab      *lab.Result `json:"lab"`
	LabError string      `json:"lab_error,omitempty"`
	Tests    []Test      `json:"tests"`
	TestsLog string      `json:"tests_log"` // file with the tests' -test.v output
	Error    string      `json:"error,omitempty"`
}

// Test is one top-level test of the root package.
type Test struct {
	Name    string  `json:"name"`
	Result  string  `json:"result"` // pass, fail, skip
	Seconds float64 `json:"seconds"`
}

func main() {
	kernels := flag.String("kernels", "5.10,6.1,6.12,host", "kernels to measure: Debian versions (5.10, 6.1, 6.12), kernel image paths, and host")
	out := flag.String("out", "docs/kernels", "directory for matrix.json, matrix.md and the test logs")
	cache := flag.String("cache-dir", vm.DefaultCacheDir, "where fetched kernels and built binaries are kept")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, strings.Split(*kernels, ","), *out, *cache); err != nil {
		fmt.Fprintln(os.Stderr, "matrix:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, names []string, outDir, cache string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: the lab makes network namespaces")
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(cache, "matrix", "flatline")
	testBin := filepath.Join(cache, "matrix", "flatline.test")
	logf("building static binaries")
	if err := vm.Build(ctx, bin, "./cmd/flatline"); err != nil {
		return err
	}
	if err := vm.TestBinary(ctx, testBin, "."); err != nil {
		return err
	}
	m := Matrix{Date: time.Now().UTC().Format("2006-01-02"), Command: "go run ./internal/vm/matrix -kernels " + strings.Join(names, ",")}
	for _, name := range names {
		k := measure(ctx, name, bin, testBin, outDir, cache)
		m.Kernels = append(m.Kernels, k)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(outDir, "matrix.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	md := Markdown(m)
	if err := os.WriteFile(filepath.Join(outDir, "matrix.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	return nil
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "matrix: "+format+"\n", a...)
}

// labArgs is the lab run of every kernel: the quick set, JSON, at most
// guestParallel cells at once everywhere, so that the host and the guests
// compare alike.
var labArgs = []string{"lab", "--quick", "--json", "--parallel", strconv.Itoa(guestParallel)}

// guestParallel cells at once: under TCG two emulated CPUs run every
// cell, and a cell that waits for one fires its timers late (a blip healed
// late kills, an idle fault applied late lands mid-keepalive-cycle).
// Measured with 36 cells at once: 3 false kills of 0.8 s blips on 6.1.
const guestParallel = 8

// testArgs run every test of the root package, verbose.
var testArgs = []string{"-test.v", "-test.count=1", "-test.timeout=10m"}

func measure(ctx context.Context, name, bin, testBin, outDir, cache string) Kernel {
	k := Kernel{Name: name, TestsLog: "tests-" + name + ".txt"}
	if name == "host" {
		h, _ := flatline.ReadHost("/")
		k.Kernel, k.Notes = h.Kernel, flatline.KernelNotes(h)
		logf("host %s: lab", k.Kernel)
		labOut, err := exec.CommandContext(ctx, bin, labArgs...).Output()
		k.setLab(labOut, err)
		logf("host: tests")
		testOut, _ := exec.CommandContext(ctx, testBin, testArgs...).CombinedOutput()
		k.setTests(testOut, outDir)
		return k
	}
	var kern vm.Kernel
	var err error
	if strings.Contains(name, "/") {
		kern, err = vm.FromPath(name, "")
		k.Name = filepath.Base(name)
		k.TestsLog = "tests-" + k.Name + ".txt"
	} else {
		kern, err = vm.Fetch(ctx, name, cache, vm.AptDir, os.Stderr)
	}
	if err != nil {
		k.Error = err.Error()
		return k
	}
	k.Package = kern.Package
	work, err := os.MkdirTemp("", "flatline-matrix-")
	if err != nil {
		k.Error = err.Error()
		return k
	}
	defer os.RemoveAll(work)

	logf("%s (%s): lab", name, kern.Release)
	out, err := vm.Run(ctx, vm.Guest{
		Kernel: kern, MemoryMiB: 2048,
		Files:   map[string]string{"flatline": bin},
		Command: append([]string{"/flatline"}, labArgs...),
	}, work)
	k.Accel = out.Accel
	if err != nil {
		k.LabError = err.Error()
	} else {
		k.setLab(out.Stdout, nil)
	}
	if k.Lab != nil {
		k.Kernel = k.Lab.Kernel
		k.Notes = flatline.KernelNotes(flatline.Host{Kernel: k.Kernel})
	}
	logf("%s: tests", name)
	out, err = vm.Run(ctx, vm.Guest{
		Kernel: kern, MemoryMiB: 2048,
		Files:   map[string]string{"flatline.test": testBin},
		Command: append([]string{"/flatline.test"}, testArgs...),
	}, work)
	if err != nil {
		k.Error = err.Error()
	}
	k.setTests(out.Stdout, outDir)
	return k
}

func (k *Kernel) setLab(out []byte, err error) {
	var res lab.Result
	if jerr := json.Unmarshal(bytes.TrimSpace(out), &res); jerr != nil {
		k.LabError = fmt.Sprintf("lab output is not JSON (%v, run error %v)", jerr, err)
		return
	}
	k.Lab = &res
	if err != nil {
		k.LabError = err.Error()
	}
}

var testLine = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)`)

func (k *Kernel) setTests(out []byte, outDir string) {
	os.WriteFile(filepath.Join(outDir, k.TestsLog), out, 0o644)
	for _, line := range strings.Split(string(out), "\n") {
		m := testLine.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			continue
		}
		s, _ := strconv.ParseFloat(m[3], 64)
		k.Tests = append(k.Tests, Test{Name: m[2], Result: strings.ToLower(m[1]), Seconds: s})
	}
}

// headline cells of the table, by name.
var headline = []struct{ label, cell string }{
	{"idle, blackhole", "idle/blackhole/flatline"},
	{"sending, blackhole", "sending/blackhole/flatline"},
	{"sending, link down", "sending/link-down/flatline"},
	{"connect, blackhole", "connect/blackhole/flatline"},
	{"zero window, frozen peer", "zero-window/peer-frozen/flatline"},
	{"story's fix, sending", "sending/blackhole/keepalive+user-timeout"},
	{"middlebox, Go default", "idle/middlebox-expiry/go-default"},
	{"middlebox, flatline", "idle/middlebox-expiry/flatline"},
	{"RTT 300 ms, idle, then blackhole", "idle/latency-300ms/flatline"},
	{"RTT 300 ms, sending, then blackhole", "sending/latency-300ms/flatline"},
	{"5 % loss, idle", "idle/loss-5pct/flatline"},
	{"5 % loss, sending", "sending/loss-5pct/flatline"},
	{"5 % loss, replication", "replication/loss-5pct/flatline"},
	{"MTU black hole, idle", "idle/mtu-blackhole/flatline"},
	{"MTU black hole, sending", "sending/mtu-blackhole/flatline"},
}

// Markdown renders m: a row per measurement, a column per kernel.
func Markdown(m Matrix) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- generated by %s on %s -->\n\n", m.Command, m.Date)
	row := func(label string, cell func(k Kernel) string) {
		fmt.Fprintf(&b, "| %s |", label)
		for _, k := range m.Kernels {
			fmt.Fprintf(&b, " %s |", cell(k))
		}
		b.WriteString("\n")
	}
	row("", func(k Kernel) string { return k.Name })
	b.WriteString("|---|" + strings.Repeat("---|", len(m.Kernels)) + "\n")
	row("kernel", func(k Kernel) string { return k.Kernel })
	row("virtual machine", func(k Kernel) string {
		if k.Accel == "" {
			return "no (host)"
		}
		return "qemu " + k.Accel
	})
	for _, h := range headline {
		row(h.label+" (T = 3 s)", func(k Kernel) string { return labCell(k, h.cell) })
	}
	row("lab cells: promise kept / run (skipped)", func(k Kernel) string {
		if k.Lab == nil {
			return "error"
		}
		kept, run, skipped := 0, 0, 0
		for _, c := range k.Lab.Cells {
			switch {
			case c.Verdict == lab.Skipped:
				skipped++
			case kept1(c):
				kept++
				run++
			default:
				run++
			}
		}
		return fmt.Sprintf("%d / %d (%d)", kept, run, skipped)
	})
	row("root tests: pass / fail / skip", func(k Kernel) string {
		n := map[string]int{}
		for _, t := range k.Tests {
			n[t.Result]++
		}
		return fmt.Sprintf("%d / %d / %d", n["pass"], n["fail"], n["skip"])
	})
	row("failed tests", func(k Kernel) string {
		var f []string
		for _, t := range k.Tests {
			if t.Result == "fail" {
				f = append(f, t.Name)
			}
		}
		sort.Strings(f)
		if len(f) == 0 {
			return "-"
		}
		return strings.Join(f, ", ")
	})
	return b.String()
}

// kept1 reports whether a cell kept its configuration's own promise.
func kept1(c lab.CellResult) bool {
	switch c.Verdict {
	case lab.InTime, lab.Survived:
		return true
	case lab.Never:
		// As the lab's summary: nothing promised, or a promise beyond the cap.
		return c.ExpectedS == nil || *c.ExpectedS >= c.CapS
	case lab.Lost:
		return c.Config == lab.GoDefault // Go's default promises nothing about middleboxes
	}
	return false
}

func labCell(k Kernel, name string) string {
	if k.Lab == nil {
		return "-"
	}
	for _, c := range k.Lab.Cells {
		if c.Cell().Name() != name {
			continue
		}
		switch {
		case c.DetectedS != nil && c.Verdict != lab.Lost:
			s := fmt.Sprintf("%.2f s", *c.DetectedS)
			switch c.Verdict {
			case lab.Late:
				s += fmt.Sprintf(" late (bound %.2f s)", *c.ExpectedS)
			case lab.FalseKill:
				s = "killed at " + s
			}
			return s
		default:
			return string(c.Verdict)
		}
	}
	return "-"
}
