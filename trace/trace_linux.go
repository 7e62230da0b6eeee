package trace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
	"golang.org/x/sys/unix"
)

// Tracer reports TCP connections the kernel ends, from BPF programs
// attached to the kernel's TCP tracepoints. Close detaches and unloads
// everything it attached.
type Tracer struct {
	coll    *ebpf.Collection
	links   []link.Link
	rd      *ringbuf.Reader
	clock   clock
	filter  *filter
	holders holders    // owners of sockets older than the tracer, from /proc (Read's goroutine only)
	exit    *exitWatch // with Options.PID: notices when the process exits

	mu     sync.Mutex
	closed bool
}

// The programs of trace.c: the state change is required, the two that
// record owners of accepted sockets are optional (their tracepoints came
// in Linux 6.3).
var (
	requiredPrograms = map[string]string{"flt_tr_state": "inet_sock_set_state"}
	optionalPrograms = map[string]string{"flt_tr_send": "sock_send_length", "flt_tr_recv": "sock_recv_length"}
)

// New loads the tracer's programs and attaches them: from its return, every
// connection the kernel ends is reported by Read. It needs root (or
// CAP_BPF and CAP_PERFMON) and MinKernel; on an older kernel the error
// matches flatline.ErrNotSupported and names what is missing.
func New(o Options) (*Tracer, error) { return newTracer(o, 0) }

// newTracer is New with a ring buffer of ringSize bytes (a power of two,
// at least a page; 0 for trace.c's 1 MiB): tests make it small to make it
// overflow.
func newTracer(o Options, ringSize uint32) (*Tracer, error) {
	f, err := newFilter(o)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			f.close()
		}
	}()
	if err := supported(); err != nil {
		return nil, err
	}
	if err := kernel.RemoveMemlock(); err != nil {
		if errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("trace: loading BPF programs needs root, or CAP_BPF and CAP_PERFMON: %w", err)
		}
		return nil, fmt.Errorf("trace: raise RLIMIT_MEMLOCK: %w", err)
	}
	spec, err := loadTracer()
	if err != nil {
		return nil, fmt.Errorf("trace: read embedded BPF object: %w", err)
	}
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("trace: %w: %w", &flatline.NotSupportedError{Feature: "kernel BTF for trace", Needs: MinKernel, GOOS: "linux"}, err)
	}
	if ringSize != 0 {
		spec.Maps["events"].MaxEntries = ringSize
	}
	for _, tp := range requiredPrograms {
		var fn *btf.Typedef
		if err := kernel.TypeByName("btf_trace_"+tp, &fn); err != nil {
			return nil, &flatline.NotSupportedError{Feature: "tracepoint " + tp + " for trace", Needs: MinKernel, GOOS: "linux"}
		}
	}
	for prog, tp := range optionalPrograms {
		var fn *btf.Typedef
		if err := kernel.TypeByName("btf_trace_"+tp, &fn); err != nil {
			delete(spec.Programs, prog)
		}
	}
	t := &Tracer{filter: f}
	if t.coll, err = ebpf.NewCollection(spec); err != nil {
		return nil, loadError(err)
	}
	defer func() {
		if !ok {
			t.Close()
		}
	}()
	for name, p := range t.coll.Programs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			return nil, loadError(fmt.Errorf("attach %s: %w", name, err))
		}
		t.links = append(t.links, l)
	}
	if t.rd, err = ringbuf.NewReader(t.coll.Maps["events"]); err != nil {
		return nil, fmt.Errorf("trace: open ring buffer: %w", err)
	}
	t.clock, err = readClock()
	if err != nil {
		return nil, err
	}
	if o.PID != 0 {
		if t.exit, err = watchExit(o.PID, func() { t.rd.Flush() }); err != nil {
			return nil, fmt.Errorf("trace: pid %d: %w", o.PID, err)
		}
	}
	ok = true
	return t, nil
}

// supported checks the kernel features the programs need, naming the
// first one missing.
func supported() error {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return &flatline.NotSupportedError{Feature: "kernel BTF (/sys/kernel/btf/vmlinux) for trace", Needs: MinKernel, GOOS: "linux"}
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		if errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("trace: loading BPF programs needs root, or CAP_BPF and CAP_PERFMON: %w", err)
		}
		if errors.Is(err, ebpf.ErrNotSupported) {
			return &flatline.NotSupportedError{Feature: "BPF ring buffers for trace", Needs: MinKernel, GOOS: "linux"}
		}
		return fmt.Errorf("trace: probe BPF ring buffers: %w", err)
	}
	return nil
}

// loadError marks a load or attach the kernel refuses for lack of a
// feature as not supported; permission errors stay what they are.
func loadError(err error) error {
	if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, syscall.EOPNOTSUPP) {
		return fmt.Errorf("trace: %w: %w", &flatline.NotSupportedError{Feature: "BTF tracepoint programs (tp_btf)", Needs: MinKernel, GOOS: "linux"}, err)
	}
	if errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("trace: load BPF programs (needs root, or CAP_BPF and CAP_PERFMON): %w", err)
	}
	return fmt.Errorf("trace: load BPF programs: %w", err)
}

// readClock reads the wall time at CLOCK_MONOTONIC zero and the tick rate.
func readClock() (clock, error) {
	var ts unix.Timespec
	now := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return clock{}, os.NewSyscallError("clock_gettime", err)
	}
	hz, _ := kernel.HostHZ("/") // unknown HZ leaves jiffies-counted durations zero
	return clock{Boot: now.Add(-time.Duration(ts.Nano())), HZ: hz}, nil
}

// Read blocks until the next connection the kernel ends that Options
// select, ctx is done, the Tracer is closed (then it returns ErrClosed),
// or, with Options.PID, that process has exited and every event before
// its exit was read (then it returns ErrProcessExited).
func (t *Tracer) Read(ctx context.Context) (Event, error) {
	// Flush wakes a Read blocked in the ring buffer's epoll wait: it then
	// returns what is pending, then ErrFlushed. (SetDeadline would wait
	// for the blocked Read's lock: no death anywhere on the host, no end.)
	stop := context.AfterFunc(ctx, func() { t.rd.Flush() })
	defer stop()
	for {
		if err := ctx.Err(); err != nil {
			return Event{}, err
		}
		rec, err := t.rd.Read()
		if errors.Is(err, ringbuf.ErrFlushed) {
			if t.exit != nil && t.exit.exited.Load() {
				return Event{}, ErrProcessExited
			}
			continue // the loop's check returns ctx's error
		}
		if err != nil {
			if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return Event{}, ErrClosed
			}
			return Event{}, fmt.Errorf("trace: read ring buffer: %w", err)
		}
		r, err := decodeRecord(rec.RawSample)
		if err != nil {
			return Event{}, err
		}
		e := r.event(t.clock)
		if !t.filter.keepBefore(e) {
			continue
		}
		if e.PID == 0 && e.Inode != 0 {
			e.PID, e.Comm = t.holders.lookup(e.Inode, e.NetNS, t.filter.pid)
		}
		if t.filter.keep(e) {
			return e, nil
		}
	}
}

// Lost returns how many deaths the kernel could not report because the
// ring buffer was full (the reader fell behind).
func (t *Tracer) Lost() (uint64, error) {
	var per []uint64
	if err := t.coll.Maps["lost"].Lookup(uint32(0), &per); err != nil {
		return 0, fmt.Errorf("trace: read lost-event counter: %w", err)
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// programIDs returns the kernel's ids of the programs this Tracer loaded,
// to check that Close unloaded them.
func (t *Tracer) programIDs() []ebpf.ProgramID {
	var ids []ebpf.ProgramID
	for _, p := range t.coll.Programs {
		if info, err := p.Info(); err == nil {
			if id, ok := info.ID(); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// Close detaches the programs and unloads them and their maps. It is safe
// to call more than once; a Read in progress returns ErrClosed.
func (t *Tracer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.exit != nil {
		t.exit.stop()
	}
	t.filter.close()
	var errs []error
	for _, l := range t.links {
		errs = append(errs, l.Close())
	}
	if t.rd != nil {
		errs = append(errs, t.rd.Close())
	}
	if t.coll != nil {
		t.coll.Close()
	}
	return errors.Join(errs...)
}

// programStats sums the run time and run count of the Tracer's programs
// (zero unless statistics are enabled, ebpf.EnableStats).
func (t *Tracer) programStats() (time.Duration, uint64) {
	var d time.Duration
	var n uint64
	for _, p := range t.coll.Programs {
		if s, err := p.Stats(); err == nil {
			d += s.Runtime
			n += s.RunCount
		}
	}
	return d, n
}
