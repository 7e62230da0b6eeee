package enforce

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/diag"
	"github.com/flatline-dev/flatline/internal/kernel"
	"golang.org/x/sys/unix"
)

// Apply sets the plan of o.Config on every TCP socket of process pid,
// listening ones included (connections they accept inherit the options):
// it lists them with diag.Scan in the process's network namespace,
// duplicates each with pidfd_getfd (Linux 5.6; root or CAP_SYS_PTRACE over
// the process), reads its options, sets the plan's where they are looser
// (values already stricter are kept and named, kernel.Tighten), reads them
// back and closes the duplicate at once: once Apply returns it holds
// nothing of the process, and a socket the process closes is gone. Sockets
// are spread as enforce spreads them: a jitter of their ports added to
// TCP_KEEPIDLE and TCP_USER_TIMEOUT (kernel.Jitter). A socket it cannot
// change is reported in its AppliedSocket.Err, not guessed. It fails as a
// whole when the process does not exist (diag.ErrNoProcess) or its sockets
// cannot be listed.
func Apply(ctx context.Context, pid int, o ApplyOptions) (*ApplyReport, error) {
	plan, err := o.Config.Plan()
	if err != nil {
		return nil, err
	}
	if pid <= 0 {
		return nil, fmt.Errorf("enforce: apply: pid %d: %w", pid, diag.ErrNoProcess)
	}
	scan, err := diag.Scan(ctx, diag.Options{PID: pid, States: diag.AllStates, Max: plan.Timeout, NoOptions: true})
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EPERM) {
		return nil, fmt.Errorf("enforce: apply to pid %d: %w (run as root: apply needs CAP_SYS_PTRACE over the process and CAP_SYS_ADMIN to enter its network namespace)", pid, err)
	}
	if err != nil {
		return nil, fmt.Errorf("enforce: apply: %w", err)
	}
	// The plan's bounds on the same host as the sockets' (read once, by
	// the scan, in the process's namespace).
	if plan, err = o.Config.PlanFor(scan.Host); err != nil {
		return nil, err
	}
	rep := &ApplyReport{Time: time.Now(), PID: pid, DryRun: o.DryRun, Plan: plan, Host: scan.Host}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		rep.Comm = string(b[:max(0, len(b)-1)])
	}
	proc, procErr := diag.OpenProcess(pid)
	if procErr == nil {
		defer proc.Close()
	}
	for _, s := range scan.Sockets {
		fd, ok := ownFD(s, pid)
		if !ok || s.Inode == 0 {
			continue
		}
		as := AppliedSocket{FD: fd, Inode: s.Inode, State: s.State.String(), Local: s.Local, Remote: s.Remote, Traffic: s.Traffic}
		if as.Traffic == "" {
			as.Traffic = flatline.StateIdle
		}
		if procErr != nil {
			as.Err = procErr
			rep.add(as)
			continue
		}
		dup, err := proc.Socket(fd, s.Inode)
		if err != nil {
			as.Err = err
			rep.add(as)
			continue
		}
		if as.State != "LISTEN" { // a listener's values are inherited by every connection it accepts: the plan's, unjittered
			as.Jitter = kernel.Jitter(plan.JitterOffsets, plan.JitterStep, s.Local.Port(), s.Remote.Port())
		}
		applyOne(&as, dup, plan, o.DryRun, scan.Host)
		unix.Close(dup)
		rep.add(as)
	}
	slices.SortFunc(rep.Sockets, func(a, b AppliedSocket) int { return a.FD - b.FD })
	rep.worst()
	return rep, nil
}

// ownFD returns the descriptor by which pid holds s.
func ownFD(s diag.Socket, pid int) (int, bool) {
	for _, o := range s.Owners {
		if o.PID == pid {
			return o.FD, true
		}
	}
	return 0, false
}

// applyOne reads, tightens and reads back one socket: the plan's options
// with as.Jitter added to the idle and the user timeout, where the
// socket's own are not stricter.
func applyOne(as *AppliedSocket, dup int, plan flatline.Plan, dryRun bool, h flatline.Host) {
	before, err := flatline.ReadSettings(kernel.FD(dup))
	if err != nil {
		as.Err = err
		return
	}
	as.Before = &before
	as.BeforeBound = boundOf(before, as.Traffic, h)
	want := kernel.Options(plan.Settings)
	want.Idle += as.Jitter
	if want.UserTimeout > 0 {
		want.UserTimeout += as.Jitter
	}
	set, kept := kernel.Tighten(kernel.Options(before), want)
	as.Kept = kept
	if dryRun {
		after := flatline.Settings(set)
		as.After = &after
		as.AfterBound = boundOf(after, as.Traffic, h)
		return
	}
	same := kernel.Options(before)
	if set.SynCount == 0 {
		same.SynCount = 0 // left alone
	}
	if set.RTOMax == 0 {
		same.RTOMax = 0 // left alone
	}
	if set == same {
		after := before
		as.After, as.AfterBound = &after, as.BeforeBound
		return // stricter or equal everywhere: left as it was
	}
	if err := flatline.SetSettings(kernel.FD(dup), flatline.Settings(set)); err != nil {
		as.Err = err
		return
	}
	as.Changed = true
	after, err := flatline.ReadSettings(kernel.FD(dup))
	if err != nil {
		as.Err = err
		return
	}
	as.After = &after
	as.AfterBound = boundOf(after, as.Traffic, h)
}

func boundOf(s flatline.Settings, st flatline.State, h flatline.Host) flatline.Bound {
	return s.Bounds(h).Of(st)
}

func (r *ApplyReport) add(as AppliedSocket) {
	switch {
	case as.Err != nil:
		r.Failed++
	case as.Changed:
		r.Changed++
	}
	r.Sockets = append(r.Sockets, as)
}

// worst fills Worst: per state, the latest deadline over the sockets'
// settings after the change (before, for those that could not change).
func (r *ApplyReport) worst() {
	r.Worst = nil
	for _, st := range flatline.States() {
		var w flatline.Bound
		first := true
		for _, s := range r.Sockets {
			set := s.After
			if set == nil {
				set = s.Before
			}
			if set == nil {
				continue
			}
			b := boundOf(*set, st, r.Host)
			if first || later(b, w) {
				w, first = b, false
			}
		}
		if !first {
			r.Worst = append(r.Worst, w)
		}
	}
}

// later reports whether a's deadline is after b's.
func later(a, b flatline.Bound) bool {
	da, oka := a.Deadline()
	db, okb := b.Deadline()
	switch {
	case !oka:
		return okb
	case !okb:
		return false
	}
	return da > db
}
