package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/diag"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/spf13/cobra"
)

// applyFlags are the flags of `flatline apply`.
type applyFlags struct {
	pid    int
	cfg    flatline.Config
	dryRun bool
	json   bool
}

func newApplyCmd() *cobra.Command {
	var f applyFlags
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Set the plan of a timeout on the TCP sockets of a running process",
		Long: `apply takes a descriptor of every TCP socket of process --pid (pidfd_getfd:
Linux 5.6, root or CAP_SYS_PTRACE over the process), listening ones included
(the connections they accept inherit the options), and sets the plan's
keepalive and TCP_USER_TIMEOUT on it: setsockopt on the duplicate changes the
process's own socket. It prints, per socket, the options before and after and
the worst case to notice a silent peer before and after, then the process's
new worst case per state. Sockets it cannot change are listed with the
reason, and the exit status is 1. --dry-run changes nothing.

Values the socket already has that are stricter than the plan's are kept
(and named in the kept column). Sockets are spread as enforce spreads them:
a jitter of their ports added to the idle and the user timeout. apply holds
no descriptor of the process once it returns. A process that later sets its own options may loosen them again
(flatline enforce guards against that for a cgroup).`,
		Example: `  flatline apply --pid 1234 --timeout 5s
  flatline apply --pid 1234 --dry-run --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.pid <= 0 {
				return usagef("apply needs --pid N, the process whose sockets to change")
			}
			if err := f.cfg.Validate(); err != nil {
				return usageError{err}
			}
			rep, err := enforce.Apply(cmd.Context(), f.pid, enforce.ApplyOptions{Config: f.cfg, DryRun: f.dryRun})
			if err != nil {
				if errors.Is(err, diag.ErrNoProcess) {
					return usagef("no process %d: %w", f.pid, err)
				}
				return err
			}
			out := cmd.OutOrStdout()
			if f.json {
				err = json.NewEncoder(out).Encode(newApplyJSON(rep))
			} else {
				err = writeApply(out, rep)
			}
			if err != nil {
				return err
			}
			if rep.Failed > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "error: %d of %d sockets of pid %d could not be changed (see each socket's error)\n",
					rep.Failed, len(rep.Sockets), rep.PID)
				return errSilent
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.pid, "pid", 0, "process whose TCP sockets to change (required)")
	fl.DurationVar(&f.cfg.Timeout, "timeout", flatline.DefaultTimeout, "longest a dead peer may go unnoticed")
	fl.BoolVar(&f.dryRun, "dry-run", false, "show what would change, change nothing")
	fl.BoolVar(&f.json, "json", false, "print JSON for programs instead of the table")
	return cmd
}

// applyJSON is `flatline apply --json`.
type applyJSON struct {
	PID      int                `json:"pid"`
	Comm     string             `json:"comm"`
	DryRun   bool               `json:"dry_run"`
	TimeoutS float64            `json:"timeout_s"`
	Settings flatline.Settings  `json:"settings"`
	Sockets  []appliedJSON      `json:"sockets"`
	Worst    map[string]boundJS `json:"worst"`
	Changed  int                `json:"changed"`
	Failed   int                `json:"failed"`
}

type appliedJSON struct {
	FD          int                `json:"fd"`
	Inode       uint64             `json:"inode"`
	State       string             `json:"state"`
	Local       string             `json:"local"`
	Remote      string             `json:"remote"`
	Traffic     string             `json:"traffic"`
	Before      *flatline.Settings `json:"before"`
	After       *flatline.Settings `json:"after"`
	WorstBefore boundJS            `json:"worst_before"`
	WorstAfter  boundJS            `json:"worst_after"`
	Changed     bool               `json:"changed"`
	Kept        []string           `json:"kept"`
	JitterS     float64            `json:"jitter_s"`
	Error       *string            `json:"error"`
}

// boundJS is a bound as JSON: deadline_s (worst + slack) null for never.
type boundJS struct {
	WorstS    *float64 `json:"worst_s"`
	DeadlineS *float64 `json:"deadline_s"`
}

func newBoundJS(b flatline.Bound) boundJS {
	var j boundJS
	if d, ok := b.Deadline(); ok {
		w, dl := b.Worst.Seconds(), d.Seconds()
		j.WorstS, j.DeadlineS = &w, &dl
	}
	return j
}

func newApplyJSON(r *enforce.ApplyReport) applyJSON {
	j := applyJSON{PID: r.PID, Comm: r.Comm, DryRun: r.DryRun, TimeoutS: r.Plan.Timeout.Seconds(),
		Settings: r.Plan.Settings, Worst: map[string]boundJS{}, Changed: changedCount(r),
		Failed: r.Failed, Sockets: []appliedJSON{}}
	for _, s := range r.Sockets {
		a := appliedJSON{FD: s.FD, Inode: s.Inode, State: s.State, Local: s.Local.String(), Remote: s.Remote.String(),
			Traffic: string(s.Traffic), Before: s.Before, After: s.After,
			WorstBefore: newBoundJS(s.BeforeBound), WorstAfter: newBoundJS(s.AfterBound), Changed: s.Changed,
			Kept: append([]string{}, s.Kept...), JitterS: s.Jitter.Seconds()}
		if s.Err != nil {
			e := s.Err.Error()
			a.Error = &e
		}
		j.Sockets = append(j.Sockets, a)
	}
	for _, b := range r.Worst {
		j.Worst[string(b.State)] = newBoundJS(b)
	}
	return j
}

// changedCount is how many sockets apply changed, or, in a dry run, would
// change: those whose settings after differ from before (the report's
// Changed counts only sockets actually set, none in a dry run).
func changedCount(r *enforce.ApplyReport) int {
	if !r.DryRun {
		return r.Changed
	}
	n := 0
	for _, so := range r.Sockets {
		if so.Err == nil && so.After != nil && (so.Before == nil || *so.Before != *so.After) {
			n++
		}
	}
	return n
}

// settingsText is "2s/1s/2 ut 3.6s", "off", or "-" when unread.
func settingsText(s *flatline.Settings) string {
	if s == nil {
		return "-"
	}
	ka := "off"
	if s.KeepAlive {
		ka = fmt.Sprintf("%v/%v/%d", s.Idle, s.Interval, s.Count)
	}
	ut := "none"
	if s.UserTimeout > 0 {
		ut = s.UserTimeout.String()
	}
	return "keepalive " + ka + ", user timeout " + ut
}

func writeApply(w io.Writer, r *enforce.ApplyReport) error {
	verb := "changed"
	if r.DryRun {
		verb = "would change (dry run)"
	}
	s := r.Plan.Settings
	fmt.Fprintf(w, "flatline apply: pid %d (%s), timeout %v: keepalive %v/%v/%d, user timeout %v\n",
		r.PID, r.Comm, r.Plan.Timeout, s.Idle, s.Interval, s.Count, s.UserTimeout)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fd\tstate\tlocal\tremote\ttraffic\tbefore\tafter\tkept (stricter)\tworst before\tworst after\t")
	for _, so := range r.Sockets {
		after := settingsText(so.After)
		worstAfter := so.AfterBound.String()
		if so.Err != nil {
			after, worstAfter = "error: "+so.Err.Error(), "-"
		}
		worstBefore := "-"
		if so.Before != nil {
			worstBefore = so.BeforeBound.String()
		}
		kept := "-"
		if len(so.Kept) > 0 {
			kept = strings.Join(so.Kept, ",")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", so.FD, so.State, so.Local, so.Remote, so.Traffic,
			settingsText(so.Before), after, kept, worstBefore, worstAfter)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d sockets %s, %d failed", changedCount(r), verb, r.Failed)
	if j := r.Plan.MaxJitter(); j > 0 {
		fmt.Fprintf(w, "; spread by a jitter of their ports up to %v on idle and user timeout", j)
	}
	fmt.Fprintln(w)
	if len(r.Worst) > 0 {
		fmt.Fprintln(w, "worst case now, over the process's sockets:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, b := range r.Worst {
			fmt.Fprintf(tw, "  %s\t%v\t\n", b.State, b)
		}
		return tw.Flush()
	}
	return nil
}
