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
	byInode map[uint64]flatline.Settings
	err     error // why the iterator could not be used; nil when it was
}

// readKernelOptions runs the iterator in the calling thread's network
// namespace (openTarget calls it from inside the inspected one).
func readKernelOptions(host flatline.Host) kernelOptions {
	socks, err := bpfiter.Read(host)
	if err != nil {
		return kernelOptions{err: err}
	}
	k := kernelOptions{byInode: make(map[uint64]flatline.Settings, len(socks))}
	for _, s := range socks {
		if s.Inode != 0 {
			k.byInode[s.Inode] = s.Settings
		}
	}
	return k
}

// lookup returns the settings the iterator read for a socket.
func (k kernelOptions) lookup(s *Socket) (flatline.Settings, bool) {
	if k.byInode == nil || s.Inode == 0 {
		return flatline.Settings{}, false
	}
	set, ok := k.byInode[s.Inode]
	return set, ok
}

// note says which path read the options, for Report.Notes.
func (k kernelOptions) note(o Options) string {
	switch {
	case o.NoOptions:
		return ""
	case k.err == nil:
		return fmt.Sprintf("options read in the kernel by a BPF iterator over TCP sockets (%d sockets); pidfd_getfd only for sockets it missed", len(k.byInode))
	case errors.Is(k.err, flatline.ErrNotSupported):
		return "options read through pidfd_getfd: " + k.err.Error()
	default:
		return "options read through pidfd_getfd: BPF iterator unavailable: " + k.err.Error()
	}
}
