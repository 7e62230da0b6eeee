package bpfiter

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"github.com/flatline-dev/flatline"
)

// Read loads the iterator, runs it once over the TCP sockets of the
// calling thread's network namespace (lock the thread to read another
// namespace), unloads it and returns every full TCP socket (not TIME-WAIT,
// not a pending connection request). host is that namespace's settings
// (flatline.ReadHost): its HZ, or its tcp_keepalive_time to derive HZ.
// Without MinKernel the error matches flatline.ErrNotSupported; without
// root (CAP_BPF and CAP_PERFMON) it says so.
func Read(host flatline.Host) ([]Socket, error) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, &flatline.NotSupportedError{Feature: "kernel BTF (/sys/kernel/btf/vmlinux) for the TCP socket iterator", Needs: MinKernel, GOOS: "linux"}
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("bpfiter: raise RLIMIT_MEMLOCK: %w", err)
	}
	var objs iterObjects
	if err := loadIterObjects(&objs, nil); err != nil {
		return nil, loadError(err)
	}
	defer objs.Close()
	l, err := link.AttachIter(link.IterOptions{Program: objs.FltIterTcp})
	if err != nil {
		return nil, loadError(fmt.Errorf("attach iter/tcp: %w", err))
	}
	defer l.Close()
	rc, err := l.Open()
	if err != nil {
		return nil, fmt.Errorf("bpfiter: open iterator: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("bpfiter: read iterator: %w", err)
	}
	return decode(b, host)
}

func loadError(err error) error {
	if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, syscall.EOPNOTSUPP) {
		return fmt.Errorf("bpfiter: %w: %w", &flatline.NotSupportedError{Feature: "BPF iterator over TCP sockets (iter/tcp)", Needs: MinKernel, GOOS: "linux"}, err)
	}
	if errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("bpfiter: load BPF iterator (needs root, or CAP_BPF and CAP_PERFMON): %w", err)
	}
	return fmt.Errorf("bpfiter: load BPF iterator: %w", err)
}
