package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/flatline-dev/flatline/trace"
	"github.com/spf13/cobra"
)

// traceFlags are the flags of `flatline trace`.
type traceFlags struct {
	opts     trace.Options
	netns    string
	json     bool
	count    int
	duration time.Duration
}

func newTraceCmd() *cobra.Command {
	var f traceFlags
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Show why the kernel ended each TCP connection, as it happens",
		Long: `trace attaches eBPF programs to the kernel's TCP tracepoints and prints every
TCP connection the kernel ends without the application asking: when, its
network namespace, local and remote address, the process that owned it, the
cause (keepalive, unacked-data, closed-window, reset, refused, unreachable,
connect-timeout) and which limit ran out (user-timeout, tcp_retries2,
keepcnt, tcp_syn_retries), the errno the application will see, the
settings in force, the retransmissions and probes at the end and how long
the peer had been silent. No program is changed or restarted.

It prints "tracing" on stderr once attached, and counts events the kernel
could not hand over (a reader too slow): they are reported, never dropped
silently. Needs root and Linux 5.8 with BTF.`,
		Example: `  flatline trace
  flatline trace --json --netns blue
  flatline trace --pid 1234 --count 1
  flatline trace --cgroup /sys/fs/cgroup/system.slice/postgresql.service`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("trace takes no arguments, got %q", args)
			}
			if f.opts.PID < 0 {
				return usagef("--pid %d: want a process id", f.opts.PID)
			}
			if f.count < 0 || f.duration < 0 {
				return usagef("--count and --duration must not be negative")
			}
			if strings.ContainsRune(f.netns, '/') {
				f.opts.NetNSPath = f.netns
			} else {
				f.opts.NetNS = f.netns
			}
			return runTrace(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print one JSON object per line for programs")
	fl.StringVar(&f.netns, "netns", "", "only this network namespace (a name under /run/netns, or a path)")
	fl.IntVar(&f.opts.PID, "pid", 0, "only sockets owned by this process (it must exist; trace stops when it exits)")
	fl.StringVar(&f.opts.Cgroup, "cgroup", "", "only sockets of processes in this cgroup v2 directory or below")
	fl.IntVar(&f.count, "count", 0, "stop after this many connections (0: until interrupted)")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (0: until interrupted)")
	return cmd
}

func runTrace(cmd *cobra.Command, f traceFlags) error {
	ctx := cmd.Context()
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	tr, err := trace.New(f.opts)
	if err != nil {
		return err
	}
	defer tr.Close()

	errw := &lockedWriter{w: cmd.ErrOrStderr()}
	fmt.Fprintln(errw, "tracing TCP connections the kernel ends; interrupt to stop")
	var lost uint64
	reportLost := func() {
		n, err := tr.Lost()
		if err == nil && n > lost {
			fmt.Fprintf(errw, "trace: %d events lost (ring buffer full: the reader fell behind), %d in all\n", n-lost, n)
			lost = n
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				reportLost()
			}
		}
	}()
	defer func() {
		close(done)
		wg.Wait()
		reportLost()
	}()

	out := cmd.OutOrStdout()
	for n := 0; f.count == 0 || n < f.count; n++ {
		e, err := tr.Read(ctx)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil
		}
		if errors.Is(err, trace.ErrProcessExited) {
			fmt.Fprintf(errw, "trace: process %d exited\n", f.opts.PID)
			return nil
		}
		if err != nil {
			return err
		}
		if err := writeEvent(out, e, f.json); err != nil {
			return err
		}
	}
	return nil
}

// writeEvent prints one event: a JSON object on a line, or a line for
// people.
func writeEvent(w io.Writer, e trace.Event, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	_, err := io.WriteString(w, eventLine(e)+"\n")
	return err
}

// eventLine is an event for people.
func eventLine(e trace.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s -> %s", e.Time.Local().Format("15:04:05.000"), e.Local, e.Remote)
	if e.PID != 0 {
		fmt.Fprintf(&b, " pid %d (%s)", e.PID, printable(e.Comm))
	} else {
		b.WriteString(" pid ?")
	}
	fmt.Fprintf(&b, " %s", e.Cause)
	if e.Limit != "" {
		fmt.Fprintf(&b, " by %s", e.Limit)
	}
	if e.Errno != 0 {
		fmt.Fprintf(&b, " %s", e.ErrnoName())
	}
	fmt.Fprintf(&b, " [%s", e.State)
	if e.Keepalive {
		fmt.Fprintf(&b, "; keepalive %v/%v/%d", e.KeepIdle, e.KeepIntvl, e.KeepCnt)
	} else {
		b.WriteString("; keepalive off")
	}
	if e.UserTimeout > 0 {
		fmt.Fprintf(&b, "; user timeout %v", e.UserTimeout)
	}
	fmt.Fprintf(&b, "; %d retransmits, %d probes; peer silent %v; netns %d]", e.Retransmits, e.Probes, e.Silent, e.NetNS)
	return b.String()
}

// printable replaces what a process may put in its name and a terminal
// would act on (control characters, escape sequences) or cannot show
// (bytes that are not UTF-8).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// lockedWriter serialises writes from the reader and the lost-event ticker.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
