package diag

import (
	"errors"
	"fmt"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/bpfiter"
)

// kernelOptions are the options of every TCP socket of the inspected
// namespace, read in the kernel by a BPF iterator (internal/bpfiter): no
// ptrace permission needed, sockets of processes that cannot be opened
// covered too. Scan uses them where it can and falls back on pidfd_getfd
// for the rest.
type kernelOptions struct {
	it     *bpfiter.Iter  // opened in the namespace, not read yet
	index  *bpfiter.Index // nil when not read
	err    error          // why the iterator could not be used; nil when it was
	owners *owners        // the namespace's sockets' owners, nil when not read by the iterator
	hint   int            // how many sockets to expect
	// ownersRead says the owners came from the iterator (walkOwners
	// consumed them).
	ownersRead bool
}

// openKernelOptions opens the iterators in the calling thread's network
// namespace (openTarget calls it from inside the inspected one): over its
// TCP sockets and, for a scan of a whole namespace with owners, over every
// process's descriptors. kernelOptions.read reads them later, from any
// thread, while the inet_diag dump runs.
func openKernelOptions(host flatline.Host, o Options, hint int) kernelOptions {
	it, err := bpfiter.Open(host, true, o.PID == 0 && !o.NoOwners)
	return kernelOptions{it: it, err: err, hint: hint}
}

// read reads the iterators openKernelOptions opened, once,
// and releases them; it does nothing if they were not opened.
func (k *kernelOptions) read() {
	if k.it == nil {
		return
	}
	x, err := k.it.ReadIndexed(k.hint)
	if err != nil {
		k.close()
		k.err = err
		return
	}
	k.readOwners(x)
}

// readOwners keeps x and reads the owners of its sockets (if the owner
// iterator was opened), then releases the iterators.
func (k *kernelOptions) readOwners(x *bpfiter.Index) {
	k.index = x
	if !k.it.ReadsOwners() {
		k.close()
		return
	}
	own := newOwners(x.Positions(), x.Len())
	err := k.it.ReadOwnersOf(x, func(n int32, o bpfiter.Owner) {
		own.add(n, Owner{PID: o.PID, FD: o.FD, Comm: o.Comm})
	})
	k.close()
	if err == nil {
		k.owners = &own
	}
}

// iterStates are the states whose sockets the socket iterator reports
// with what inet_diag would (full sockets): not TIME-WAIT and not
// connection requests (SYN-RECV asks inet_diag for those too).
const iterStates = AllStates &^ (1<<StateTimeWait | 1<<StateSynRecv | 1<<StateNewSynRecv)

// dumps says whether the socket iterator can stand in for the inet_diag
// dump: it is open, and states asks for nothing but full sockets.
func (k *kernelOptions) dumps(states uint32) bool {
	return k.it != nil && k.it.ReadsSockets() && states&^iterStates == 0
}

// readConns is read that also hands every full socket to fn with what
// inet_diag would report of it (see dumps): one walk of the sockets for
// both.
func (k *kernelOptions) readConns(fn func(c *bpfiter.Conn, set *flatline.Settings)) error {
	x, err := k.it.ReadConns(k.hint, func(_ int32, c *bpfiter.Conn, set *flatline.Settings) { fn(c, set) })
	if err != nil {
		k.close()
		return err
	}
	k.readOwners(x)
	return nil
}

// close releases the iterators if they are still open.
func (k *kernelOptions) close() {
	if k.it != nil {
		k.it.Close()
		k.it = nil
	}
}

// lookup returns the settings the iterator read for a socket, nil when it
// did not: a pointer into the index, shared by every socket with the
// same settings, so that 20,000 sockets do not make 20,000 copies.
func (k *kernelOptions) lookup(ino uint64) *flatline.Settings {
	if k.index == nil || ino == 0 {
		return nil
	}
	_, set, _ := k.index.Lookup(ino)
	return set
}

// walkOwners returns the processes holding the sockets: the ones the BPF
// iterator found holding the namespace's sockets where it ran (root,
// Linux 5.9, the initial pid namespace), else from a walk of /proc.
func (k *kernelOptions) walkOwners() (owners, error) {
	if k.owners == nil {
		return walkOwners(0)
	}
	k.ownersRead = true
	o := *k.owners
	k.owners = nil
	return o, nil
}

// ownersOf groups the owner iterator's descriptors by socket.
func ownersOf(own []bpfiter.Owner) owners {
	recs := make([]ownerOf, len(own))
	for i, f := range own {
		recs[i] = ownerOf{f.Inode, Owner{PID: f.PID, FD: f.FD, Comm: f.Comm}}
	}
	return groupOwners(recs)
}

// note says which path read the options, for Report.Notes.
func (k kernelOptions) note(o Options) string {
	switch {
	case o.NoOptions:
		return ""
	case k.err == nil && k.ownersRead:
		return fmt.Sprintf("options read in the kernel by a BPF iterator over TCP sockets (%d sockets), owners by one over processes' descriptors; pidfd_getfd only for sockets it missed", k.index.Len())
	case k.err == nil:
		return fmt.Sprintf("options read in the kernel by a BPF iterator over TCP sockets (%d sockets); pidfd_getfd only for sockets it missed", k.index.Len())
	case errors.Is(k.err, flatline.ErrNotSupported):
		return "options read through pidfd_getfd: " + k.err.Error()
	default:
		return "options read through pidfd_getfd: BPF iterator unavailable: " + k.err.Error()
	}
}

// diagMsgOf is what inet_diag would have reported of c, into m, its
// tcp_info into info.
func diagMsgOf(c *bpfiter.Conn, m *DiagMsg, info *TCPInfo) {
	*info = TCPInfo{
		State: TCPState(c.State), Retransmits: int(c.Retransmits), Probes: int(c.Probes), Backoff: int(c.Backoff),
		RTO: c.RTO, Unacked: c.Unacked,
		LastDataSent: c.LastDataSent, LastDataRecv: c.LastDataRecv, LastAckRecv: c.LastAckRecv,
		TotalRetrans: c.TotalRetrans, SegsOut: c.SegsOut, HasSegsOut: true,
		NotsentBytes: c.NotsentBytes, SndWnd: c.SndWnd, HasSndWnd: true,
	}
	*m = DiagMsg{
		Family: c.Family, State: TCPState(c.State), Timer: Timer(c.Timer), Retrans: int(c.Retrans),
		Local: c.Local, Remote: c.Remote, Cookie: c.Cookie, Expires: c.Expires,
		RQueue: c.RQueue, WQueue: c.WQueue, UID: c.UID, Inode: c.Inode, Info: info,
		Shutdown: int(c.Shutdown),
	}
}
