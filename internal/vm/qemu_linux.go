package vm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Output is what a guest run produced.
type Output struct {
	Stdout   []byte // the command's standard output
	Console  []byte // the guest's console: kernel messages, init, the command's standard error
	ExitCode int    // the command's exit status
	Release  string // uname -r in the guest
	Accel    string // "kvm" or "tcg"
	Elapsed  time.Duration
}

// Accelerators, tried in order when Options.Accel is "".
const (
	AccelKVM = "kvm"
	AccelTCG = "tcg"
)

// kvmStartWait is how long a KVM guest may take to reach its init before
// it is taken for broken (nested KVM that starts and then faults) and the
// run is retried with TCG.
const kvmStartWait = 20 * time.Second

// Run boots g's kernel with qemu-system-x86_64 and runs g.Command in it:
// with KVM where /dev/kvm works, else (or when a KVM guest dies or does
// not reach init within 20 s) with TCG. workDir holds the initramfs and
// the serial logs. qemu is killed on every exit path, ctx's end included.
// A command that exits non-zero is not an error: see Output.ExitCode.
func Run(ctx context.Context, g Guest, workDir string) (Output, error) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		return Output{}, errors.New("vm: qemu-system-x86_64 is not installed (Debian: qemu-system-x86)")
	}
	a, err := g.initramfs()
	if err != nil {
		return Output{}, err
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return Output{}, fmt.Errorf("vm: %w", err)
	}
	initrd := filepath.Join(workDir, "initramfs.cpio")
	if err := writeArchive(initrd, a); err != nil {
		return Output{}, err
	}
	var accels []string
	if kvmUsable() {
		accels = append(accels, AccelKVM)
	}
	accels = append(accels, AccelTCG)
	var lastErr error
	for _, accel := range accels {
		out, err := boot(ctx, g, initrd, workDir, accel)
		if err == nil || ctx.Err() != nil || accel == AccelTCG {
			return out, err
		}
		lastErr = err
	}
	return Output{}, lastErr
}

func writeArchive(path string, a *Archive) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("vm: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := a.WriteTo(w); err != nil {
		f.Close()
		return fmt.Errorf("vm: write initramfs: %w", err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("vm: write initramfs: %w", err)
	}
	return f.Close()
}

// kvmUsable reports whether /dev/kvm opens read-write.
func kvmUsable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// errKVMBroken is a KVM guest that died or hung before its init.
var errKVMBroken = errors.New("vm: KVM guest did not reach its init")

func boot(ctx context.Context, g Guest, initrd, workDir, accel string) (Output, error) {
	mem, cpus := g.MemoryMiB, g.CPUs
	if mem == 0 {
		mem = 1024
	}
	if cpus == 0 {
		cpus = 2
	}
	console := filepath.Join(workDir, "console-"+accel+".log")
	stdout := filepath.Join(workDir, "stdout-"+accel+".log")
	for _, p := range []string{console, stdout} {
		os.Remove(p)
	}
	cpu := "max"
	if accel == AccelKVM {
		cpu = "host"
	}
	args := []string{
		"-accel", accel, "-cpu", cpu, "-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-display", "none", "-no-reboot", "-nodefaults",
		"-kernel", g.Kernel.Image, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init",
		"-serial", "file:" + console, "-serial", "file:" + stdout,
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "qemu-system-x86_64", args...)
	var qerr limitedBuffer
	cmd.Stderr = &qerr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Output{}, fmt.Errorf("vm: start qemu: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Every exit path kills qemu and waits for it.
	defer func() {
		cmd.Process.Kill()
		<-done
	}()

	if accel == AccelKVM {
		deadline := time.NewTimer(kvmStartWait)
		tick := time.NewTicker(200 * time.Millisecond)
		defer deadline.Stop()
		defer tick.Stop()
	wait:
		for {
			select {
			case err := <-done:
				done <- err
				return Output{}, fmt.Errorf("%w: qemu exited: %v: %s", errKVMBroken, err, qerr.String())
			case <-deadline.C:
				return Output{}, errKVMBroken
			case <-ctx.Done():
				return Output{}, ctx.Err()
			case <-tick.C:
				if b, _ := os.ReadFile(console); bytes.Contains(b, []byte(startMarker)) {
					break wait
				}
			}
		}
	}
	var werr error
	select {
	case werr = <-done:
		done <- werr
	case <-ctx.Done():
		return Output{}, ctx.Err()
	}
	out := Output{Accel: accel, Elapsed: time.Since(start), ExitCode: -1}
	out.Console, _ = os.ReadFile(console)
	out.Stdout, _ = os.ReadFile(stdout)
	// The serial line turns \n into \r\n; the command wrote \n.
	out.Stdout = bytes.ReplaceAll(out.Stdout, []byte("\r\n"), []byte("\n"))
	out.Release, out.ExitCode = parseConsole(out.Console)
	if out.ExitCode < 0 {
		return out, fmt.Errorf("vm: the guest ended without the command's exit status (qemu: %v %s); console:\n%s", werr, qerr.String(), tail(out.Console, 3000))
	}
	return out, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
