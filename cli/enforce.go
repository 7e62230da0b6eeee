package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/spf13/cobra"
)

// enforceFlags are the flags of `flatline enforce`.
type enforceFlags struct {
	cgroup string
	cfg    flatline.Config
	json   bool
	allow  bool
	pin    string
	detach bool
	// wholeHost allows the cgroup2 root.
	wholeHost bool
}

// defaultPinDir is where --detach looks without --pin.
const defaultPinDir = "/sys/fs/bpf"

func newEnforceCmd() *cobra.Command {
	var f enforceFlags
	cmd := &cobra.Command{
		Use:   "enforce",
		Short: "Hold every TCP connection of a cgroup to the plan of a timeout, in the kernel",
		Long: `enforce attaches two eBPF programs to a cgroup (v2): every TCP connection a
process of the cgroup makes or accepts gets the plan's keepalive and
TCP_USER_TIMEOUT from its SYN on, and a process that later sets looser values
(Go's net.Dialer sets 15s/15s/9 after connecting) has them rewritten to the
plan's, unless --allow-looser. Connections made together get a whole-second
jitter on their keepalive idle and user timeout within the plan's spread.

It stays in the foreground, prints a line starting with "enforcing" once
attached (a JSON object with --json) and detaches on SIGINT or SIGTERM; the
programs are bpf_links, so the kernel detaches them however the process ends.
--pin DIR (a bpffs mount) pins them instead and returns: they stay until
"flatline enforce --detach --cgroup PATH [--pin DIR]".

Needs root (CAP_BPF, CAP_NET_ADMIN) and Linux 5.9.`,
		Example: `  flatline enforce --cgroup /sys/fs/cgroup/system.slice/postgresql.service --timeout 5s
  flatline enforce --cgroup /sys/fs/cgroup/app --json
  flatline enforce --cgroup /sys/fs/cgroup/app --pin /sys/fs/bpf
  flatline enforce --detach --cgroup /sys/fs/cgroup/app`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.cgroup == "" {
				return usagef("enforce needs --cgroup PATH: a directory of the cgroup2 mount (see /proc/self/mountinfo)")
			}
			out := cmd.OutOrStdout()
			if f.detach {
				return runDetach(out, f)
			}
			if err := checkEnforceTarget(f.cgroup, f.wholeHost); err != nil {
				return err
			}
			e, err := enforce.Attach(f.cgroup, enforce.Options{Config: f.cfg, AllowLooser: f.allow})
			if err != nil {
				if errors.Is(err, enforce.ErrNotCgroup2) || errors.Is(err, flatline.ErrInvalidConfig) {
					return usageError{err}
				}
				return err
			}
			defer e.Close() // every exit path: the kernel detaches the links
			ev := newEnforceEvent("enforcing", e.Plan(), f)
			if f.pin != "" {
				dir, err := e.Pin(f.pin)
				if err != nil {
					return err
				}
				ev.Pinned = dir
				return writeEnforceEvent(out, ev, f.json)
			}
			if err := writeEnforceEvent(out, ev, f.json); err != nil {
				return err
			}
			<-cmd.Context().Done()
			stats, serr := e.Stats()
			if err := e.Close(); err != nil {
				return fmt.Errorf("enforce: detach: %w", err)
			}
			ev = newEnforceEvent("detached", e.Plan(), f)
			if serr == nil {
				ev.Stats = &stats
			}
			return writeEnforceEvent(out, ev, f.json)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.cgroup, "cgroup", "", "cgroup v2 directory whose TCP connections to hold (required)")
	fl.DurationVar(&f.cfg.Timeout, "timeout", flatline.DefaultTimeout, "longest a dead peer may go unnoticed")
	fl.BoolVar(&f.json, "json", false, "print JSON objects, one a line, instead of text")
	fl.BoolVar(&f.allow, "allow-looser", false, "let processes set looser keepalive or user-timeout values on their sockets")
	fl.StringVar(&f.pin, "pin", "", "pin the programs under this bpffs directory and return (with --detach: where to look; default "+defaultPinDir+")")
	fl.BoolVar(&f.detach, "detach", false, "remove what --pin left on --cgroup")
	fl.BoolVar(&f.wholeHost, "whole-host", false, "allow --cgroup to be the cgroup2 root: every process of the host")
	return cmd
}

// enforceEvent is one line of `flatline enforce`: attached, detached or
// pinned, for people and as JSON.
type enforceEvent struct {
	Event       string             `json:"event"`
	Cgroup      string             `json:"cgroup"`
	TimeoutS    float64            `json:"timeout_s,omitempty"`
	Settings    *flatline.Settings `json:"settings,omitempty"`
	SpreadS     float64            `json:"spread_s,omitempty"`
	AllowLooser bool               `json:"allow_looser"`
	Pinned      string             `json:"pinned,omitempty"`
	// Orphan is, for a detach, the id of a removed cgroup whose pinned
	// enforcement was removed (the cgroup's path no longer names it).
	Orphan uint64         `json:"orphan_cgroup_id,omitempty"`
	Stats  *enforce.Stats `json:"stats,omitempty"`
	Time   time.Time      `json:"time"`
}

func newEnforceEvent(event string, p flatline.Plan, f enforceFlags) enforceEvent {
	ev := enforceEvent{Event: event, Cgroup: f.cgroup, AllowLooser: f.allow, Time: time.Now()}
	if p.Timeout > 0 {
		ev.TimeoutS = p.Timeout.Seconds()
		ev.SpreadS = p.Spread.Truncate(time.Second).Seconds()
		s := p.Settings
		ev.Settings = &s
	}
	return ev
}

func writeEnforceEvent(w io.Writer, ev enforceEvent, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(ev)
	}
	var err error
	switch ev.Event {
	case "enforcing":
		s := ev.Settings
		looser := "looser values rewritten"
		if ev.AllowLooser {
			looser = "looser values allowed"
		}
		_, err = fmt.Fprintf(w, "enforcing %gs on %s: keepalive %v/%v/%d, TCP_USER_TIMEOUT %d ms, spread %gs, %s",
			ev.TimeoutS, ev.Cgroup, s.Idle, s.Interval, s.Count, s.UserTimeout.Milliseconds(), ev.SpreadS, looser)
		if err == nil && ev.Pinned != "" {
			_, err = fmt.Fprintf(w, "; pinned at %s (flatline enforce --detach --cgroup %s --pin %s removes it)\n",
				ev.Pinned, ev.Cgroup, filepath.Dir(ev.Pinned))
		} else if err == nil {
			_, err = fmt.Fprintln(w, "; SIGINT or SIGTERM detaches")
		}
	case "detached":
		if ev.Orphan != 0 {
			_, err = fmt.Fprintf(w, "detached the enforcement of removed cgroup id %d (%s no longer names it; pins %s)", ev.Orphan, ev.Cgroup, ev.Pinned)
		} else {
			_, err = fmt.Fprintf(w, "detached from %s", ev.Cgroup)
		}
		if err == nil && ev.Stats != nil {
			st := ev.Stats
			_, err = fmt.Fprintf(w, ": %d connects and %d accepts configured, %d looser values rewritten, %d let through, %d setsockopt errors",
				st.Connects, st.Accepts, st.Clamped, st.LooserAllowed, st.SetErrors)
		}
		if err == nil {
			_, err = fmt.Fprintln(w)
		}
	}
	return err
}

// checkEnforceTarget refuses what enforce should not do silently: the
// cgroup2 root (every process of the host) without --whole-host, and a
// cgroup another enforce already runs on (both would run on every
// connection, the stricter value winning option by option, and detaching
// one would leave the other).
func checkEnforceTarget(path string, wholeHost bool) error {
	root, err := enforce.IsCgroupRoot(path)
	if err != nil {
		if errors.Is(err, enforce.ErrNotCgroup2) {
			return usageError{err}
		}
		return err
	}
	if root && !wholeHost {
		return usagef("enforce: %s is the cgroup2 root: every process of the host would be changed; name a cgroup below it, or add --whole-host", path)
	}
	progs, err := enforce.Attached(path)
	if err != nil {
		return nil // Attach says what is wrong
	}
	var ids []string
	for _, p := range progs {
		if p.Name == "apply" || p.Name == "guard" {
			ids = append(ids, fmt.Sprintf("%s %d", p.Name, p.ID))
		}
	}
	if len(ids) > 0 {
		return fmt.Errorf("enforce: %s is already enforced (programs %s): two runs would both apply, the stricter value winning; stop the other run or flatline enforce --detach it first", path, strings.Join(ids, ", "))
	}
	return nil
}

// detachOrphans removes the pinned enforcements under dir whose cgroup is
// gone, says so for each, and reports whether there was any.
func detachOrphans(w io.Writer, dir string, f enforceFlags) (bool, error) {
	orphans, err := enforce.DetachOrphans(dir)
	for _, o := range orphans {
		ev := newEnforceEvent("detached", flatline.Plan{}, f)
		ev.Orphan = o.CgroupID
		ev.Pinned = o.Dir
		st := o.Stats
		ev.Stats = &st
		if werr := writeEnforceEvent(w, ev, f.json); werr != nil {
			return true, werr
		}
	}
	return len(orphans) > 0, err
}

// attachEnforce is lab.Options.Enforce: the lab's enforced cells.
func attachEnforce(path string, cfg flatline.Config) (io.Closer, error) {
	return enforce.Attach(path, enforce.Options{Config: cfg})
}

func runDetach(w io.Writer, f enforceFlags) error {
	dir := f.pin
	if dir == "" {
		dir = defaultPinDir
	}
	stats, err := enforce.Detach(dir, f.cgroup)
	if errors.Is(err, enforce.ErrNotPinned) || (errors.Is(err, enforce.ErrNotCgroup2) && errors.Is(err, fs.ErrNotExist)) {
		// The cgroup was removed (or made anew) after --pin: its pins
		// are found by the ids of cgroups that no longer exist.
		if done, oerr := detachOrphans(w, dir, f); oerr != nil || done {
			return oerr
		}
	}
	if err != nil {
		if errors.Is(err, enforce.ErrNotCgroup2) {
			return usageError{err}
		}
		return err
	}
	ev := newEnforceEvent("detached", flatline.Plan{}, f)
	ev.Stats = &stats
	return writeEnforceEvent(w, ev, f.json)
}
