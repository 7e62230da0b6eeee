package diag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/bpfiter"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// Scan inspects the TCP sockets Options selects: it dumps them with
// inet_diag in the inspected namespace, finds their owners in /proc, reads
// their options through pidfd_getfd, reads the namespace's sysctls, and
// judges each socket. Sockets that close and processes that exit during the
// scan, and options it may not read, become per-socket reasons and Notes,
// not errors. It fails when the namespace, the process or the dump cannot
// be opened at all.
func Scan(ctx context.Context, o Options) (*Report, error) {
	r, err := ScanCompact(ctx, o)
	if err != nil {
		return nil, err
	}
	r.expand()
	return r, nil
}

// ScanCompact is Scan for a report that is only written: its Sockets
// stay nil, and WriteJSON and WriteText write each socket from a packed
// copy the report keeps (200 bytes a socket where a Socket takes 336):
// what flatline inspect prints.
func ScanCompact(ctx context.Context, o Options) (*Report, error) {
	t, err := openTarget(o)
	if err != nil {
		return nil, err
	}
	defer t.conn.Close()
	defer t.kopts.close()
	return t.scan(ctx, o)
}

// target is an opened inspection target: a diag socket in its namespace
// and that namespace's host settings.
type target struct {
	name     string
	conn     *diagConn
	host     flatline.Host
	hostErr  error
	kopts    kernelOptions // options read by the BPF iterator (iter_linux.go)
	sizeHint int           // TCP sockets the namespace holds (/proc/net/sockstat), 0 unknown
	// empty says sockstat counted no TCP socket at all: nothing to load
	// the iterators for, no descriptors to walk.
	empty  bool
	owners *owners // the host's, walked once for many namespaces; nil: walk them
}

// tcpInfoSlab hands out TCPInfo records from arrays of 1024, so that a
// scan does not allocate one per socket; a record handed out stays where
// it is (a Socket's Info points at it).
type tcpInfoSlab struct {
	chunk []TCPInfo
}

func (s *tcpInfoSlab) next() *TCPInfo {
	if len(s.chunk) == cap(s.chunk) {
		s.chunk = make([]TCPInfo, 0, 1024)
	}
	s.chunk = s.chunk[:len(s.chunk)+1]
	return &s.chunk[len(s.chunk)-1]
}

// unget gives back the record next handed out last.
func (s *tcpInfoSlab) unget() {
	s.chunk[len(s.chunk)-1] = TCPInfo{}
	s.chunk = s.chunk[:len(s.chunk)-1]
}

// maxSizeHint bounds the capacity a scan reserves from sockstat's count.
const maxSizeHint = 1 << 20

// tcpSockets reads how many TCP sockets the calling thread's network
// namespace holds (in use and TIME-WAIT: every socket a dump may return),
// from its /proc/net/sockstat; false when unreadable.
func tcpSockets() (int, bool) {
	b, err := os.ReadFile("/proc/thread-self/net/sockstat")
	if err != nil {
		return 0, false
	}
	n, ok := parseSockstatTCP(b, "TCP")
	if !ok {
		return 0, false
	}
	// IPv6 sockets are counted apart; no file: IPv6 is off.
	if b, err := os.ReadFile("/proc/thread-self/net/sockstat6"); err == nil {
		n6, ok := parseSockstatTCP(b, "TCP6")
		if !ok {
			return 0, false
		}
		n += n6
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, false
	}
	return min(n, maxSizeHint), true
}

func openTarget(o Options) (*target, error) {
	path, name := "", "current"
	if o.PID != 0 {
		path = "/proc/" + strconv.Itoa(o.PID) + "/ns/net"
		name = "of pid " + strconv.Itoa(o.PID)
		if _, err := os.Stat("/proc/" + strconv.Itoa(o.PID)); err != nil {
			return nil, fmt.Errorf("diag: pid %d: %w", o.PID, ErrNoProcess)
		}
	}
	if o.NetNS != "" {
		p, err := kernel.NetNSPath(o.NetNS)
		if err != nil {
			return nil, fmt.Errorf("diag: %w", err)
		}
		if path != "" {
			same, err := sameFile(p, path)
			if err != nil {
				return nil, err
			}
			if !same {
				return nil, fmt.Errorf("diag: pid %d is not in network namespace %s", o.PID, o.NetNS)
			}
		}
		path, name = p, o.NetNS
	}
	t := &target{name: name}
	open := func() error {
		c, err := openDiag()
		if err != nil {
			return err
		}
		t.conn = c
		n, known := tcpSockets()
		t.sizeHint, t.empty = n, known && n == 0 && o.PID == 0
		if known && o.Sized != nil {
			o.Sized(n)
		}
		t.host, t.hostErr = flatline.ReadHost("/")
		if !o.NoOptions && !t.empty {
			t.kopts = openKernelOptions(t.host, o, t.sizeHint)
		}
		return nil
	}
	if path != "" {
		same, err := kernel.SameNetNS(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("diag: network namespace %s: %w", name, err)
			}
			if errors.Is(err, os.ErrPermission) {
				return nil, fmt.Errorf("diag: network namespace %s: %w (reading another user's process needs root, or CAP_SYS_PTRACE over it)", name, err)
			}
			return nil, err
		}
		if !same {
			return t, kernel.InNetNS(path, open)
		}
	}
	return t, open()
}

func (t *target) scan(ctx context.Context, o Options) (*Report, error) {
	r := &Report{Time: time.Now(), Namespace: t.name, PID: o.PID, Host: t.host, HostErr: t.hostErr, Max: o.max()}
	if t.hostErr != nil {
		r.Host = flatline.LinuxDefaults()
		r.Notes = append(r.Notes, "host sysctls unreadable, assuming Linux defaults: "+t.hostErr.Error())
	}

	// One process's fds are read first, to dump only its sockets; a whole
	// namespace's are read while the dump runs.
	var own owners
	if o.PID != 0 {
		var err error
		if own, err = walkOwners(o.PID); err != nil {
			return nil, err
		}
	}
	capacity := t.sizeHint
	if o.PID != 0 {
		capacity = len(own.group)
	}
	rows, infos := make([]row, 0, capacity), tcpInfoSlab{}
	prefault(rows)
	mine := func(ino uint64) bool { return o.PID == 0 || (ino != 0 && own.of(ino) != nil) }
	iterated := false
	if t.kopts.dumps(o.states()) {
		// One walk: the socket iterator reports what the dump would, with
		// the options; then the owners. Should it fail, the dump runs.
		err := t.kopts.readConns(func(c *bpfiter.Conn, set *flatline.Settings) {
			if o.states()&(1<<c.State) == 0 || !mine(c.Inode) {
				return
			}
			var m DiagMsg
			diagMsgOf(c, &m, infos.next())
			rows = append(rows, row{})
			rows[len(rows)-1].packMsg(&m)
			rows[len(rows)-1].settings = set
		})
		if err != nil {
			t.kopts.err = err
			rows, infos = rows[:0], tcpInfoSlab{}
		} else {
			iterated = true
		}
	}
	var w walked
	var interrupted bool
	var err error
	switch {
	case iterated && o.PID != 0:
		w.own = own
	case iterated && !o.NoOwners:
		w.own, w.err = t.walkOwners()
	case t.empty:
		// No TCP socket in sockstat (no listener, so no request either):
		// the dump would walk the host's socket table to find none. A
		// socket made since is one made after the scan.
	case !iterated:
		r.dumped = true
		walk := make(chan walked, 1)
		t.startWalk(o, own, walk)
		interrupted, err = t.conn.dumpRaw(o.states(), func(payload []byte) error {
			var m DiagMsg
			if err := decodeDiagMsg(payload, &m, infos.next()); err != nil {
				return err
			}
			keep := mine(m.Inode)
			if m.Info == nil || !keep {
				infos.unget()
			}
			if keep {
				rows = append(rows, row{})
				rows[len(rows)-1].packMsg(&m)
			}
			return ctx.Err()
		})
		w = <-walk
	}
	if err != nil {
		return nil, err
	}
	if w.err != nil {
		return nil, w.err
	}
	r.rows, r.own = rows, &w.own
	attachOwners(r.rows, r.own)
	if w.own.unreadable > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("fds of %d processes unreadable (needs root): their sockets show no owner", w.own.unreadable))
	}
	if o.PID != 0 && len(rows) == 0 && isKernelThread(o.PID) {
		r.Notes = append(r.Notes, fmt.Sprintf("pid %d is a kernel thread: it has no file descriptors, so no sockets of its own", o.PID))
	}
	if interrupted {
		r.rows = dedupe(r.rows)
		r.Notes = append(r.Notes, "sockets came or went during the dump: the list may miss some")
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n := t.kopts.note(o); n != "" && !t.empty {
		r.Notes = append(r.Notes, n)
	}
	gone := t.readAndJudge(r, o)
	if w.own.unreadable > 0 { // the likely owners are among the unreadable
		for i := range r.rows {
			if r.rows[i].optionsErr == errNoOwner {
				r.rows[i].optionsErr = errNoOwnerPerm
			}
		}
	}
	if gone > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d sockets closed or their process exited during the scan", gone))
	}
	order(r.rows, r.own)
	r.Summary = summarize(r.rows, r.Max)
	return r, nil
}

// walked is the owners of a scan's sockets, or why they are unknown.
type walked struct {
	own owners
	err error
}

// walkOwners returns the owners of the namespace's sockets: the host's,
// when walked once for many namespaces (ScanNamespaces), else
// kernelOptions.walkOwners's.
func (t *target) walkOwners() (owners, error) {
	if t.owners != nil {
		return *t.owners, nil
	}
	return t.kopts.walkOwners()
}

// startWalk starts what the dump does not read itself, to run while it
// does: a whole namespace's options and owners on another thread.
func (t *target) startWalk(o Options, own owners, walk chan<- walked) {
	switch {
	case t.owners != nil: // walked once for many namespaces (ScanNamespaces)
		go func() {
			t.kopts.read() // while the dump runs
			walk <- walked{own: *t.owners}
		}()
	case o.PID == 0 && !o.NoOwners:
		go func() {
			t.kopts.read() // while the dump runs
			w, err := t.kopts.walkOwners()
			walk <- walked{w, err}
		}()
	default:
		t.kopts.read()
		walk <- walked{own: own}
	}
}

// readAndJudge reads every socket's options (unless Options say not to)
// and judges it, on as many threads as Go may run at once. It returns how
// many sockets or processes were gone by the time of the read.
func (t *target) readAndJudge(r *Report, o Options) int {
	optr := newOptionReader()
	defer optr.Close()
	read := !o.NoOptions && !(o.NoOwners && o.PID == 0)
	if read {
		for i := range r.rows {
			k := &r.rows[i]
			if k.settings != nil || k.inode == 0 || t.kopts.lookup(k.inode) != nil {
				continue
			}
			if ow := r.own.ofGroup(k.owned); len(ow) > 0 {
				optr.open(ow[0].PID)
			}
		}
	}
	one := func(k *row, cache boundsCache, bounds map[flatline.Bound]*flatline.Bound) bool {
		var s Socket
		k.socket(&s, r.own)
		gone := false
		inKernel := s.Settings
		if inKernel == nil {
			inKernel = t.kopts.lookup(s.Inode)
		}
		switch {
		case o.NoOptions:
			s.OptionsErr = errNotRead
		case inKernel != nil:
			s.Settings = inKernel
		case !read:
			s.OptionsErr = errNoOwners
		case s.Inode == 0:
			s.OptionsErr = errOrphan
		case len(s.Owners) == 0:
			s.OptionsErr = errNoOwner
		default:
			ow := s.Owners[0]
			set, err := optr.read(ow.PID, ow.FD, s.Inode)
			if err != nil {
				s.OptionsErr = err
				gone = errors.Is(err, ErrGone)
			} else {
				s.Settings = &set
			}
		}
		judgeCached(&s, r.Host, r.Max, cache)
		k.packJudged(&s, shared(bounds, s.Bound))
		return gone
	}
	const chunk = 256
	workers := min(runtime.GOMAXPROCS(0), (len(r.rows)+chunk-1)/chunk)
	if !read || workers <= 1 {
		gone, cache, bounds := 0, boundsCache{}, map[flatline.Bound]*flatline.Bound{}
		for i := range r.rows {
			if one(&r.rows[i], cache, bounds) {
				gone++
			}
		}
		return gone
	}
	var next atomic.Int64
	var gone atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cache, bounds := boundsCache{}, map[flatline.Bound]*flatline.Bound{}
			for {
				start := int(next.Add(chunk)) - chunk
				if start >= len(r.rows) {
					return
				}
				for i := start; i < min(start+chunk, len(r.rows)); i++ {
					if one(&r.rows[i], cache, bounds) {
						gone.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	return int(gone.Load())
}

var (
	errNotRead  = errors.New("not read (Options.NoOptions)")
	errNoOwners = errors.New("not read (Options.NoOwners)")
	errOrphan   = errors.New("no process holds it (orphaned or TIME-WAIT)")
	errNoOwner  = errors.New("no owning process found in /proc (its process is in another PID namespace)")
	// errNoOwnerPerm: some processes' fds could not be read, the likely
	// owner's among them.
	errNoOwnerPerm = errors.New("no owning process found: other users' fds are unreadable without root (or CAP_SYS_PTRACE)")
)

// isKernelThread reports whether pid is a kernel thread (PF_KTHREAD in
// the flags field of /proc/PID/stat).
func isKernelThread(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The command, field 2, is in parentheses and may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 7 {
		return false
	}
	flags, err := strconv.ParseUint(f[6], 10, 64) // field 9: after state, ppid, pgrp, session, tty, tpgid
	return err == nil && flags&pfKthread != 0
}

// pfKthread is PF_KTHREAD (include/linux/sched.h).
const pfKthread = 0x00200000

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
