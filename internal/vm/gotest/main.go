// Command gotest runs one package's tests in a qemu guest of another
// kernel: it builds the package's test binary statically, boots the
// kernel (fetched with the machine's apt, see internal/vm) and runs the
// binary there with -test.v and -test.run.
//
//	sudo go run ./internal/vm/gotest -kernel 6.12 -pkg ./diag -run 'IteratorMatchesInetDiag|ScanPID'
//
// It exits 1 when the tests fail or the guest cannot run them. Timing
// tests may fail under TCG (no nested KVM here): the guest's timers run
// late.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/flatline-dev/flatline/internal/vm"
)

func main() {
	kernel := flag.String("kernel", "6.12", "a Debian kernel version (5.10, 6.1, 6.12)")
	pkg := flag.String("pkg", "./diag", "the package whose tests to run")
	run := flag.String("run", ".", "the -test.run pattern")
	cache := flag.String("cache-dir", vm.DefaultCacheDir, "where fetched kernels are kept")
	flag.Parse()
	if err := gotest(*kernel, *pkg, *run, *cache); err != nil {
		fmt.Fprintln(os.Stderr, "gotest:", err)
		os.Exit(1)
	}
}

func gotest(kernel, pkg, run, cache string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	work, err := os.MkdirTemp("", "flatline-gotest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "pkg.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c %s: %v\n%s", pkg, err, out)
	}
	k, err := vm.Fetch(ctx, kernel, cache, vm.AptDir, os.Stderr)
	if err != nil {
		return err
	}
	out, err := vm.Run(ctx, vm.Guest{
		Kernel: k, MemoryMiB: 2048,
		Files:   map[string]string{"pkg.test": bin},
		Command: []string{"/pkg.test", "-test.v", "-test.run", run},
	}, filepath.Join(work, "guest"))
	os.Stdout.Write(out.Stdout)
	if err != nil {
		return err
	}
	if out.ExitCode != 0 {
		return fmt.Errorf("the tests exited %d in the %s guest (%s)", out.ExitCode, kernel, out.Accel)
	}
	return nil
}
