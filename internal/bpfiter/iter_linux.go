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
	"golang.org/x/sys/unix"
)

// Read loads the iterator, runs it once over the TCP sockets of the
// calling thread's network namespace (lock the thread to read another
// namespace), unloads it and returns every full TCP socket (not TIME-WAIT,
// not a pending connection request). host is that namespace's settings
// (flatline.ReadHost): its HZ, or its tcp_keepalive_time to derive HZ.
// Without MinKernel the error matches flatline.ErrNotSupported; without
// root (CAP_BPF and CAP_PERFMON) it says so.
func Read(host flatline.Host) ([]Socket, error) {
	socks, _, err := ReadAll(host, true, false)
	return socks, err
}

// ReadOwners returns every descriptor of every process on the host that
// holds a TCP (or MPTCP) socket, read in the kernel (iter/task_file, Linux
// 5.9): what a walk of /proc/*/fd finds, without a readlink per
// descriptor. Process ids are those of the initial pid namespace, so it
// refuses to run from any other (the error matches
// flatline.ErrNotSupported).
func ReadOwners() ([]Owner, error) {
	_, owners, err := ReadAll(flatline.Host{}, false, true)
	return owners, err
}

// initPidNS is the inode of the initial pid namespace (PROC_PID_INIT_INO).
const initPidNS = 0xEFFFFFFC

// ReadAll is Read (with sockets) and ReadOwners (with owners) from one
// load of the programs (the cost of a load is most of a run on a few
// thousand sockets). Owners outside the initial pid namespace are not
// read: the error says so and the sockets are still returned.
func ReadAll(host flatline.Host, sockets, owners bool) ([]Socket, []Owner, error) {
	objs, err := load()
	if err != nil {
		return nil, nil, err
	}
	defer objs.Close()
	var socks []Socket
	if sockets {
		b, err := run(objs.FltIterTcp, "iter/tcp")
		if err != nil {
			return nil, nil, err
		}
		if socks, err = decode(b, host); err != nil {
			return nil, nil, err
		}
	}
	if !owners {
		return socks, nil, nil
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil || st.Ino != initPidNS {
		return socks, nil, &flatline.NotSupportedError{Feature: "BPF owner iterator outside the initial pid namespace", GOOS: "linux"}
	}
	b, err := run(objs.FltIterOwners, "iter/task_file")
	if err != nil {
		return socks, nil, err
	}
	own, err := decodeOwners(b)
	return socks, own, err
}

// load loads the iterator programs.
func load() (*iterObjects, error) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, &flatline.NotSupportedError{Feature: "kernel BTF (/sys/kernel/btf/vmlinux) for BPF iterators", Needs: MinKernel, GOOS: "linux"}
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("bpfiter: raise RLIMIT_MEMLOCK: %w", err)
	}
	var objs iterObjects
	if err := loadIterObjects(&objs, nil); err != nil {
		return nil, loadError(err)
	}
	return &objs, nil
}

// run attaches prog as an iterator, reads its output once and detaches
// it.
func run(prog *ebpf.Program, what string) ([]byte, error) {
	l, err := link.AttachIter(link.IterOptions{Program: prog})
	if err != nil {
		return nil, loadError(fmt.Errorf("attach %s: %w", what, err))
	}
	defer l.Close()
	rc, err := l.Open()
	if err != nil {
		return nil, fmt.Errorf("bpfiter: open %s: %w", what, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("bpfiter: read %s: %w", what, err)
	}
	return b, nil
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
