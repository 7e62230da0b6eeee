package diag

import (
	"context"
	"fmt"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/bpfiter"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// ScanNamespaces scans the network namespaces at paths (names under
// /var/run/netns or paths such as /proc/123/ns/net) as Scan would scan
// each with o (o.NetNS and o.PID are ignored), in one pass: the BPF
// iterator programs are loaded once and run in each namespace, and the
// processes' descriptors are walked once for all of them, where Scan pays
// both for every namespace. As in Scan, each namespace's sockets are
// walked once, by the socket iterator, which reports with their options
// what inet_diag would; the inet_diag dump runs only where the iterator
// cannot (not loaded, or failed) or for what it does not see (TIME-WAIT
// and connection requests, when o.States asks for them). A socket made
// between the descriptors' walk and its namespace's shows no owner.
// reports[i] and errs[i] are for paths[i]; a namespace that cannot be
// opened gets an error (matching fs.ErrNotExist when it is gone) and the
// others are still scanned. It stops when ctx ends.
func ScanNamespaces(ctx context.Context, o Options, paths []string) (reports []*Report, errs []error) {
	reports, errs = make([]*Report, len(paths)), make([]error, len(paths))
	o.PID = 0
	var progs *bpfiter.Programs
	var progsErr error
	if !o.NoOptions {
		progs, progsErr = bpfiter.Load()
		if progs != nil {
			defer progs.Close()
		}
	}
	var shared *owners
	fromIterator := false
	if !o.NoOwners {
		if progs != nil {
			if own, err := progs.Owners(); err == nil {
				o := ownersOf(own)
				shared, fromIterator = &o, true
			}
		}
		if shared == nil {
			w, err := walkOwners(0)
			if err != nil {
				for i := range errs {
					errs[i] = err
				}
				return reports, errs
			}
			shared = &w
		}
	}
	for i, p := range paths {
		if err := ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		o.NetNS = p
		t, err := openTargetWith(o, progs, progsErr)
		if err != nil {
			errs[i] = err
			continue
		}
		t.owners = shared
		t.kopts.ownersRead = fromIterator
		reports[i], errs[i] = t.scan(ctx, o)
		if reports[i] != nil {
			reports[i].expand()
		}
		t.kopts.close()
		t.conn.Close()
	}
	return reports, errs
}

// openTargetWith opens the namespace o.NetNS as openTarget does, with
// the socket iterator of progs (already loaded) opened in it, to be read
// by the scan, or, when progs is nil, progsErr as the reason it was not.
func openTargetWith(o Options, progs *bpfiter.Programs, progsErr error) (*target, error) {
	path, err := kernel.NetNSPath(o.NetNS)
	if err != nil {
		return nil, fmt.Errorf("diag: %w", err)
	}
	t := &target{name: o.NetNS}
	err = kernel.InNetNS(path, func() error {
		c, err := openDiag()
		if err != nil {
			return err
		}
		t.conn = c
		n, known := tcpSockets()
		t.sizeHint, t.empty = n, known && n == 0
		if known && o.Sized != nil {
			o.Sized(n)
		}
		t.host, t.hostErr = flatline.ReadHost("/")
		switch {
		case o.NoOptions, t.empty:
		case progs == nil:
			t.kopts.err = progsErr
		default:
			t.kopts.it, t.kopts.err = progs.OpenSockets(t.host)
			t.kopts.hint = t.sizeHint
		}
		return nil
	})
	if err != nil {
		if t.conn != nil {
			t.conn.Close()
		}
		return nil, fmt.Errorf("diag: network namespace %s: %w", o.NetNS, err)
	}
	return t, nil
}
