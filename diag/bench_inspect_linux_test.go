package diag

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
)

// BenchmarkInspectVsSS times whole processes on the same namespace, side
// by side in one run: `flatline inspect --json --netns NAME` (every
// socket's options read, in the kernel by the BPF iterator where it
// loads, else through pidfd_getfd), the same with --no-options, and
// `ss -tnoi` (no options: ss cannot read them) started in the namespace;
// at 10,000 and 20,000 established loopback connections. It builds the
// flatline binary first and prints a table of the median and fastest of
// the runs. Needs root and the go tool.
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
		conns       int
		name        string
		median, min time.Duration
	}
	var rows []row
	for _, n := range []int{10000, 20000} {
		name, cleanup := benchNamespace(b, n)
		path := filepath.Join(testutil.NetnsDir, name)
		tools := []struct {
			name string
			argv []string
			inNS bool
		}{
			{"flatline inspect --json", []string{bin, "inspect", "--json", "--netns", name}, false},
			{"flatline inspect --json --no-options", []string{bin, "inspect", "--json", "--no-options", "--netns", name}, false},
			{"ss -tnoi", []string{ss, "-tnoi"}, true},
		}
		times := make([][]time.Duration, len(tools))
		// The tools take turns, run after run, so that load from other
		// processes falls on all of them alike.
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				for i, tool := range tools {
					cmd := exec.Command(tool.argv[0], tool.argv[1:]...)
					cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
					start := time.Now()
					if tool.inNS {
						err = kernel.InNetNS(path, cmd.Run)
					} else {
						err = cmd.Run()
					}
					if err != nil {
						b.Fatalf("%v: %v", tool.argv, err)
					}
					times[i] = append(times[i], time.Since(start))
				}
			}
		})
		for i, tool := range tools {
			slices.Sort(times[i])
			if len(times[i]) > 0 {
				rows = append(rows, row{n, tool.name, times[i][len(times[i])/2], times[i][0]})
			}
		}
		cleanup()
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\nconnections\twhole process\tmedian\tfastest\t\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%v\t%v\t\n", r.conns, r.name, r.median.Round(time.Millisecond), r.min.Round(time.Millisecond))
	}
	tw.Flush()
}
