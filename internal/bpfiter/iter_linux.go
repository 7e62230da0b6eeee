package bpfiter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
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
// holds a socket (of any protocol: callers find theirs by inode), read in the kernel (iter/task_file, Linux
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
	it, err := Open(host, sockets, owners)
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	return it.Read()
}

// Iter is the iterators opened, to be read once, later, from any thread:
// the socket iterator reads the network namespace of the thread that
// opened it.
type Iter struct {
	objs            *iterObjects
	links           []*link.Iter
	sockets, owners io.ReadCloser
	host            flatline.Host
	ownersErr       error
}

// Open loads the programs and opens the iterators ReadAll would read: the
// TCP sockets of the calling thread's network namespace (with sockets) and
// every process's TCP descriptors (with owners). Read them with Read;
// Close releases everything, read or not.
func Open(host flatline.Host, sockets, owners bool) (*Iter, error) {
	objs, err := load()
	if err != nil {
		return nil, err
	}
	it := &Iter{objs: objs, host: host}
	open := func(prog *ebpf.Program, what string) (io.ReadCloser, error) {
		l, err := link.AttachIter(link.IterOptions{Program: prog})
		if err != nil {
			return nil, loadError(fmt.Errorf("attach %s: %w", what, err))
		}
		it.links = append(it.links, l)
		rc, err := l.Open()
		if err != nil {
			return nil, fmt.Errorf("bpfiter: open %s: %w", what, err)
		}
		return rc, nil
	}
	if sockets {
		if it.sockets, err = open(objs.FltIterTcp, "iter/tcp"); err != nil {
			it.Close()
			return nil, err
		}
	}
	if owners {
		var st unix.Stat_t
		if err := unix.Stat("/proc/self/ns/pid", &st); err != nil || st.Ino != initPidNS {
			it.ownersErr = &flatline.NotSupportedError{Feature: "BPF owner iterator outside the initial pid namespace", GOOS: "linux"}
		} else if it.owners, err = open(objs.FltIterOwners, "iter/task_file"); err != nil {
			it.Close()
			return nil, err
		}
	}
	return it, nil
}

// Read reads the iterators Open opened: the sockets (nil if not asked
// for) and the owners (nil, with an error, if they could not be read).
// Records are decoded as they are read, a buffer at a time.
func (it *Iter) Read() ([]Socket, []Owner, error) {
	var socks []Socket
	if it.sockets != nil {
		err := readRecords(it.sockets, "iter/tcp", recSize, func(b []byte) error {
			var err error
			socks, err = decodeAppend(socks, b, it.host)
			return err
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if it.owners == nil {
		return socks, nil, it.ownersErr
	}
	var own []Owner
	err := readRecords(it.owners, "iter/task_file", ownerSize, func(b []byte) error {
		own = decodeOwnersAppend(own, b)
		return nil
	})
	if err != nil {
		return socks, nil, err
	}
	return socks, own, nil
}

// ReadIndexed is Read's sockets for a caller that looks them up by
// inode (then ReadOwnersOf for their owners): indexed, not sorted (a map
// lookup a socket costs a third of a sort and binary searches at 20,000
// sockets). hint is how many sockets to expect (0: unknown).
func (it *Iter) ReadIndexed(hint int) (*Index, error) {
	x := NewIndex(hint)
	if it.sockets != nil {
		err := readRecords(it.sockets, "iter/tcp", recSize, func(b []byte) error {
			return x.addRecords(b, it.host)
		})
		if err != nil {
			return nil, err
		}
	}
	return x, nil
}

// ReadConns is ReadIndexed that also hands every full TCP socket (not
// TIME-WAIT, not a connection request) to fn, with what inet_diag would
// report of it, its number in the index (-1 without an inode) and its
// settings (nil without an inode): a scan that needs both walks the
// sockets once. The Conn is valid only during the call to fn.
func (it *Iter) ReadConns(hint int, fn func(n int32, c *Conn, s *flatline.Settings)) (*Index, error) {
	x := NewIndex(hint)
	if it.sockets == nil {
		return x, nil
	}
	err := readRecords(it.sockets, "iter/tcp", recSize, func(b []byte) error {
		return x.addConns(b, it.host, fn)
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// ReadsSockets says whether the socket iterator is open.
func (it *Iter) ReadsSockets() bool { return it.sockets != nil }

// ReadsOwners says whether the owner iterator is open (Open was asked
// for owners and they can be read here).
func (it *Iter) ReadsOwners() bool { return it.owners != nil }

// ReadOwnersOf reads the owner iterator and, for each descriptor that
// holds one of x's sockets, calls owner with that socket's number and the
// descriptor, in the order the kernel walks them (a process's
// descriptors together, by fd); the rest of the host's are dropped as
// they are read, so a node's other namespaces cost nothing.
func (it *Iter) ReadOwnersOf(x *Index, owner func(n int32, o Owner)) error {
	if it.owners == nil {
		return it.ownersErr
	}
	var last Owner // a process's descriptors share its Comm string
	return readRecords(it.owners, "iter/task_file", ownerSize, func(b []byte) error {
		for ; len(b) >= ownerSize; b = b[ownerSize:] {
			n, ok := x.pos[binary.NativeEndian.Uint64(b)]
			if !ok {
				continue
			}
			last = ownerAt(b, last)
			owner(n, last)
		}
		return nil
	})
}

// Close detaches and unloads the iterators.
func (it *Iter) Close() error {
	var errs []error
	for _, rc := range []io.ReadCloser{it.sockets, it.owners} {
		if rc != nil {
			errs = append(errs, rc.Close())
		}
	}
	for _, l := range it.links {
		errs = append(errs, l.Close())
	}
	if it.objs != nil { // nil: opened from Programs, which own them
		errs = append(errs, it.objs.Close())
	}
	return errors.Join(errs...)
}

// readRecords reads an iterator's output and hands whole records of size
// bytes to fn, a buffer at a time; a record cut by a read is kept for the
// next. It fails with errRecord when the output ends inside a record.
func readRecords(r io.Reader, what string, size int, fn func([]byte) error) error {
	buf := make([]byte, 64<<10)
	have := 0
	for {
		n, err := r.Read(buf[have:])
		have += n
		whole := have - have%size
		if whole > 0 {
			if err := fn(buf[:whole]); err != nil {
				return err
			}
			have = copy(buf, buf[whole:have])
		}
		if err == io.EOF {
			if have != 0 {
				return fmt.Errorf("%w (%d bytes left, records of %d)", errRecord, have, size)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("bpfiter: read %s: %w", what, err)
		}
	}
}

// load loads the iterator programs.
func load() (*iterObjects, error) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, &flatline.NotSupportedError{Feature: "kernel BTF (/sys/kernel/btf/vmlinux) for BPF iterators", Needs: MinKernel, GOOS: "linux"}
	}
	if err := kernel.RemoveMemlock(); err != nil {
		if errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("bpfiter: loading BPF iterators needs root, or CAP_BPF and CAP_PERFMON: %w", err)
		}
		return nil, fmt.Errorf("bpfiter: raise RLIMIT_MEMLOCK: %w", err)
	}
	var objs iterObjects
	if err := loadIterObjects(&objs, nil); err != nil {
		return nil, loadError(err)
	}
	return &objs, nil
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

// Programs are the iterator programs loaded and attached once, to be run
// over many network namespaces: a node's exporter pays the load (kernel
// BTF, the verifier) once, not once a namespace.
type Programs struct {
	objs          *iterObjects
	tcp, ownerIts *link.Iter
	ownersErr     error
}

// Load loads and attaches the iterator programs. Without MinKernel the
// error matches flatline.ErrNotSupported; without root (CAP_BPF and
// CAP_PERFMON) it says so.
func Load() (*Programs, error) {
	objs, err := load()
	if err != nil {
		return nil, err
	}
	p := &Programs{objs: objs}
	if p.tcp, err = link.AttachIter(link.IterOptions{Program: objs.FltIterTcp}); err != nil {
		p.Close()
		return nil, loadError(fmt.Errorf("attach iter/tcp: %w", err))
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil || st.Ino != initPidNS {
		p.ownersErr = &flatline.NotSupportedError{Feature: "BPF owner iterator outside the initial pid namespace", GOOS: "linux"}
	} else if p.ownerIts, err = link.AttachIter(link.IterOptions{Program: objs.FltIterOwners}); err != nil {
		p.Close()
		return nil, loadError(fmt.Errorf("attach iter/task_file: %w", err))
	}
	return p, nil
}

// OpenSockets opens the socket iterator over the calling thread's network
// namespace, as Open(host, true, false) does, from the programs already
// loaded: read it (ReadConns, ReadIndexed) later, from any thread. Its
// Close closes only what it opened; the programs stay loaded.
func (p *Programs) OpenSockets(host flatline.Host) (*Iter, error) {
	rc, err := p.tcp.Open()
	if err != nil {
		return nil, fmt.Errorf("bpfiter: open iter/tcp: %w", err)
	}
	return &Iter{sockets: rc, host: host}, nil
}

// Owners runs the owner iterator once over every process of the host and
// returns each descriptor on a socket (of any protocol: callers find
// theirs by inode), in the order the kernel walked
// them (a process's descriptors together, by fd). Outside the initial pid namespace the error matches
// flatline.ErrNotSupported.
func (p *Programs) Owners() ([]Owner, error) {
	if p.ownerIts == nil {
		return nil, p.ownersErr
	}
	rc, err := p.ownerIts.Open()
	if err != nil {
		return nil, fmt.Errorf("bpfiter: open iter/task_file: %w", err)
	}
	defer rc.Close()
	var own []Owner
	if err := readRecords(rc, "iter/task_file", ownerSize, func(b []byte) error {
		own = decodeOwnersAppend(own, b)
		return nil
	}); err != nil {
		return nil, err
	}
	return own, nil
}

// Close detaches and unloads the programs.
func (p *Programs) Close() error {
	var errs []error
	for _, l := range []*link.Iter{p.tcp, p.ownerIts} {
		if l != nil {
			errs = append(errs, l.Close())
		}
	}
	errs = append(errs, p.objs.Close())
	return errors.Join(errs...)
}
