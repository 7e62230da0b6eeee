package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/flatline-dev/flatline/internal/vm"
	"github.com/flatline-dev/flatline/lab"
	"github.com/spf13/cobra"
)

// resolveKernel turns --kernel into a bootable kernel: a version (5.10,
// 6.1, 6.12) is fetched from the distribution's packages and cached; a
// path is a kernel image, with --modules its lib/modules/RELEASE. Bad
// input is refused first, then every program the run needs that the host
// lacks is named at once (vm.Preflight).
func resolveKernel(cmd *cobra.Command, f labFlags) (vm.Kernel, error) {
	if isKernelPath(f.kernel) {
		k, err := vm.FromPath(f.kernel, f.modules)
		if err != nil {
			return vm.Kernel{}, err
		}
		return k, vm.Preflight(false)
	}
	if _, err := vm.Suite(f.kernel); err != nil {
		return vm.Kernel{}, usageError{err}
	}
	if f.modules != "" {
		return vm.Kernel{}, usagef("--modules goes with a kernel image path, not with --kernel %s", f.kernel)
	}
	// Every program the run needs, named at once, before any download.
	if err := vm.Preflight(true); err != nil {
		return vm.Kernel{}, err
	}
	return vm.Fetch(cmd.Context(), f.kernel, f.cacheDir, vm.AptDir, cmd.ErrOrStderr())
}

// isKernelPath tells a kernel image's path from a version to fetch.
func isKernelPath(kernel string) bool { return strings.ContainsRune(kernel, '/') || fileExists(kernel) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// guestParallel is how many cells a guest runs at once unless --parallel
// says otherwise.
const guestParallel = 8

// runLabInKernel runs the lab in a virtual machine booted from --kernel:
// the same flags, the guest's flatline printing JSON, the table or JSON
// printed here from it.
func runLabInKernel(cmd *cobra.Command, f labFlags) error {
	if os.Geteuid() != 0 {
		return usagef("lab --kernel needs root (the kernel cache in %s, apt's private configuration)", f.cacheDir)
	}
	k, err := resolveKernel(cmd, f)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("lab: find own executable: %w", err)
	}
	bin, err := vm.FlatlineBinary(cmd.Context(), exe, f.cacheDir)
	if err != nil {
		return err
	}
	// The guest prints JSON when this run needs the data (--json,
	// --chart), else its own table, which carries each cell's slack and
	// rule (not in the JSON schema).
	wantJSON := f.json || f.chart != ""
	args := []string{"/flatline", "lab", "--timeout", f.timeout.String()}
	if wantJSON {
		args = append(args, "--json")
	}
	if f.cap != 0 {
		args = append(args, "--cap", f.cap.String())
	}
	if f.only != "" {
		args = append(args, "--only", f.only)
	}
	if f.quick {
		args = append(args, "--quick")
	}
	// Under TCG two emulated CPUs run every cell: fewer at once keep a
	// cell's timers from firing late because it waits for a CPU.
	parallel := f.parallel
	if parallel == 0 {
		parallel = guestParallel
	}
	args = append(args, "--parallel", fmt.Sprint(parallel))
	work, err := os.MkdirTemp("", "flatline-vm-")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer os.RemoveAll(work)
	stderr := cmd.ErrOrStderr()
	fmt.Fprintf(stderr, "flatline lab: booting %s (%s) in qemu\n", k.Release, k.Image)
	out, err := vm.Run(cmd.Context(), vm.Guest{
		Kernel: k, Files: map[string]string{"flatline": bin}, Command: args, MemoryMiB: 2048,
	}, work)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "flatline lab: the guest (%s, %s) ran in %v\n", out.Release, out.Accel, out.Elapsed.Round(time.Second))
	w := cmd.OutOrStdout()
	if !wantJSON {
		w.Write(out.Stdout)
		if out.ExitCode != 0 {
			return fmt.Errorf("lab: the lab in the guest exited with status %d; its console ends:\n%s", out.ExitCode, lastLines(out.Console, 10))
		}
		return nil
	}
	var res lab.Result
	if jerr := json.Unmarshal(bytes.TrimSpace(out.Stdout), &res); jerr != nil {
		return fmt.Errorf("lab: the guest's output is not the lab's JSON (%v, exit status %d); its console ends:\n%s",
			jerr, out.ExitCode, lastLines(out.Console, 30))
	}
	if f.json {
		err = lab.WriteJSON(w, &res)
	} else {
		err = lab.WriteTable(w, &res)
	}
	if err != nil {
		return err
	}
	if f.chart != "" {
		if err := writeChartFile(f.chart, &res); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "chart written to %s\n", f.chart)
	}
	if out.ExitCode != 0 {
		return fmt.Errorf("lab: the lab in the guest exited with status %d; its console ends:\n%s", out.ExitCode, lastLines(out.Console, 10))
	}
	return nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\r\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
