package diag

import (
	"errors"
	"fmt"
	"slices"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/bpfiter"
)

// kernelOptions are the options of every TCP socket of the inspected
// namespace, read in the kernel by a BPF iterator (internal/bpfiter): no
// ptrace permission needed, sockets of processes that cannot be opened
// covered too. Scan uses them where it can and falls back on pidfd_getfd
// for the rest.
type kernelOptions struct {
	it     *bpfiter.Iter    // opened in the namespace, not read yet
	socks  []bpfiter.Socket // sorted by inode, without inode 0; nil when not read
	err    error            // why the iterator could not be used; nil when it was
	owners []bpfiter.Owner  // every process's TCP descriptors, nil when not read by the iterator
	inodes []uint64         // socks' inodes, for lookup
	hint   int              // how many sockets to expect
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
	socks, own, err := k.it.ReadIndexed(k.hint)
	k.close()
	if socks == nil && err != nil {
		k.err = err
		return
	}
	k.owners = own
	k.setSockets(socks)
}

// setSockets keeps the iterator's sockets (sorted by inode) and a compact
// copy of their inodes for lookup.
func (k *kernelOptions) setSockets(socks []bpfiter.Socket) {
	k.socks = socks
	k.inodes = make([]uint64, len(socks))
	for i, s := range socks {
		k.inodes[i] = s.Inode
	}
}

// close releases the iterators if they are still open.
func (k *kernelOptions) close() {
	if k.it != nil {
		k.it.Close()
		k.it = nil
	}
}

// lookup returns the settings the iterator read for a socket, nil when it
// did not: a pointer into the iterator's sockets, which live as long as
// the report, so that 20,000 sockets do not make 20,000 copies.
func (k *kernelOptions) lookup(s *Socket) *flatline.Settings {
	if k.socks == nil || s.Inode == 0 {
		return nil
	}
	i, ok := slices.BinarySearch(k.inodes, s.Inode)
	if !ok {
		return nil
	}
	return &k.socks[i].Settings
}

// walkOwners returns the processes holding the sockets: the ones the BPF
// iterator found holding the namespace's sockets where it ran (root,
// Linux 5.9, the initial pid namespace), else from a walk of /proc.
func (k *kernelOptions) walkOwners() (owners, error) {
	if k.owners == nil {
		return walkOwners(0)
	}
	k.ownersRead = true
	o := owners{inodes: make([]uint64, len(k.owners)), list: make([]Owner, len(k.owners))}
	for i, f := range k.owners {
		o.inodes[i], o.list[i] = f.Inode, Owner{PID: f.PID, FD: f.FD, Comm: f.Comm}
	}
	k.owners = nil
	return o, nil
}

// note says which path read the options, for Report.Notes.
func (k kernelOptions) note(o Options) string {
	switch {
	case o.NoOptions:
		return ""
	case k.err == nil && k.ownersRead:
		return fmt.Sprintf("options read in the kernel by a BPF iterator over TCP sockets (%d sockets), owners by one over processes' descriptors; pidfd_getfd only for sockets it missed", len(k.socks))
	case k.err == nil:
		return fmt.Sprintf("options read in the kernel by a BPF iterator over TCP sockets (%d sockets); pidfd_getfd only for sockets it missed", len(k.socks))
	case errors.Is(k.err, flatline.ErrNotSupported):
		return "options read through pidfd_getfd: " + k.err.Error()
	default:
		return "options read through pidfd_getfd: BPF iterator unavailable: " + k.err.Error()
	}
}
