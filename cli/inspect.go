package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/flatline-dev/flatline/diag"
	"github.com/flatline-dev/flatline/internal/hugeheap"
	"github.com/spf13/cobra"
)

// inspectFlags are the flags of `flatline inspect`.
type inspectFlags struct {
	opts     diag.Options
	json     bool
	all      bool
	watch    optDuration
	count    int
	duration time.Duration
}

// watchDefault is the interval of a bare --watch.
const watchDefault = 100 * time.Millisecond

// optDuration is a duration flag that may be absent (not watching), bare
// (the default interval) or given.
type optDuration struct {
	d   time.Duration
	set bool
}

func (o *optDuration) String() string {
	if !o.set {
		return ""
	}
	return o.d.String()
}

func (o *optDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	o.d, o.set = d, true
	return nil
}

func (o *optDuration) Type() string { return "duration" }

func newInspectCmd() *cobra.Command {
	var f inspectFlags
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show every TCP socket's real dead-peer deadline",
		Long: `inspect reads every TCP socket of this network namespace (or of --netns, or of
process --pid in its own namespace) through inet_diag: state, pending timer,
retransmissions, probes and tcp_info. It finds each socket's process through
/proc, reads its real options with pidfd_getfd and getsockopt (root or
CAP_SYS_PTRACE over the process; Linux 5.6), reads the namespace's TCP
sysctls, and says for each socket how long, at worst, the kernel would take
to notice its peer vanish now, with a verdict: ok (within --timeout), slow,
never, stuck-retransmitting, or unknown when its options are unreadable.

--watch prints each socket's timer transitions (keepalive → on → keepalive)
with timestamps until interrupted, --count polls or --duration.`,
		Example: `  flatline inspect
  flatline inspect --pid 1234 --json
  flatline inspect --netns blue --timeout 10s
  flatline inspect --pid 1234 --watch 50ms --duration 30s`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// --watch takes its interval as the next word too
			// (--watch 50ms), not only as --watch=50ms.
			switch {
			case len(args) == 1 && f.watch.set && f.watch.d == watchDefault:
				d, err := time.ParseDuration(args[0])
				if err != nil {
					return usagef("--watch %s: want an interval such as 100ms", args[0])
				}
				f.watch.d = d
			case len(args) > 0:
				return usagef("inspect takes no arguments, got %q", args)
			}
			if f.all {
				f.opts.States = diag.AllStates
			}
			if f.opts.PID < 0 {
				return usagef("--pid %d: want a process id", f.opts.PID)
			}
			if f.opts.Max < 0 {
				return usagef("--timeout %v: want a positive duration", f.opts.Max)
			}
			if f.count < 0 {
				return usagef("--count %d: want a number of polls (0: until interrupted)", f.count)
			}
			if f.duration < 0 {
				return usagef("--duration %v: want a positive duration (0: until interrupted)", f.duration)
			}
			if f.watch.set {
				if f.json {
					return usagef("--watch prints lines for people; --json is for a single scan")
				}
				return runWatch(cmd, f)
			}
			if f.count != 0 || f.duration != 0 {
				return usagef("--count and --duration go with --watch")
			}
			return runInspect(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.opts.PID, "pid", 0, "inspect only this process's sockets, in its network namespace")
	fl.StringVar(&f.opts.NetNS, "netns", "", "inspect this network namespace (a name under /run/netns, or a path)")
	timeoutFlag(fl, &f.opts.Max, "longest a dead peer may go unnoticed: the limit of the verdict ok", "max")
	fl.BoolVar(&f.json, "json", false, "print JSON for programs instead of the table")
	fl.BoolVar(&f.all, "all", false, "include LISTEN, TIME-WAIT and SYN-RECV sockets")
	fl.BoolVar(&f.opts.NoOptions, "no-options", false, "do not read socket options (faster; fewer verdicts)")
	fl.Var(&f.watch, "watch", "poll every `INTERVAL` and print timer transitions (bare --watch: 100ms)")
	fl.Lookup("watch").NoOptDefVal = watchDefault.String()
	fl.IntVar(&f.count, "count", 0, "with --watch: stop after this many polls")
	fl.DurationVar(&f.duration, "duration", 0, "with --watch: stop after this long")
	return cmd
}

// hugeHeapSockets is the namespace size from which inspect asks for huge
// pages for its heap (about 4 MB of heap).
const hugeHeapSockets = 4096

func runInspect(cmd *cobra.Command, f inspectFlags) error {
	// One scan, then exit: the collector may let the heap grow to four
	// times what is live (GOGC=300) rather than two. At 20,000 sockets
	// that is four collections fewer, a quarter of the process's CPU, for
	// about 1 MB of peak RSS (docs/inspect.md). An explicit GOGC wins.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(300))
	}
	// A large scan's heap in huge pages where the kernel gives them only
	// on request: on this project's 2-core VMs a 4 KiB page fault costs
	// about 12 µs, and the faults of the heap were a fifth of the
	// process's CPU at 20,000 sockets (docs/inspect.md). Below a few
	// thousand sockets the collection Reserve runs costs more than the
	// faults it saves.
	opts := f.opts
	opts.Sized = func(sockets int) {
		if sockets >= hugeHeapSockets {
			hugeheap.Reserve(64 << 20)
		}
	}
	r, err := diag.ScanCompact(cmd.Context(), opts)
	if err != nil {
		return inspectErr(err)
	}
	out := cmd.OutOrStdout()
	if f.json {
		// Streamed as the report marshals itself: an Encoder (or
		// json.Marshal) would compact and indent it again, most of the
		// time of a 20,000-socket scan.
		if err := r.WriteJSON(out); err != nil {
			return err
		}
		_, err = io.WriteString(out, "\n")
		return err
	}
	return r.WriteText(out)
}

func runWatch(cmd *cobra.Command, f inspectFlags) error {
	if f.watch.d <= 0 {
		return usagef("--watch %v: want a positive interval", f.watch.d)
	}
	ctx := cmd.Context()
	if f.duration > 0 {
		var cancel func()
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	out := cmd.OutOrStdout()
	err := diag.Watch(ctx, f.opts, diag.WatchOptions{Interval: f.watch.d, Polls: f.count}, func(t diag.Transition) error {
		_, err := io.WriteString(out, t.String()+"\n")
		return err
	})
	return inspectErr(err)
}

// inspectErr turns a missing process into a usage error: the command line
// named it.
func inspectErr(err error) error {
	if errors.Is(err, diag.ErrNoProcess) {
		return usageError{fmt.Errorf("inspect: %w", err)}
	}
	return err
}
