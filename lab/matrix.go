package lab

import (
	"fmt"
	"path"
	"time"

	"github.com/flatline-dev/flatline"
)

// Workload is what the connection does when the fault strikes.
type Workload string

// Workloads of the matrix.
const (
	Idle        Workload = "idle"        // nothing in flight, nothing arriving
	Sending     Workload = "sending"     // the client writes steadily: data in flight at the fault
	Receiving   Workload = "receiving"   // only the server writes; the client acknowledges
	Replication Workload = "replication" // the client ships records, the server acknowledges each one
	ZeroWindow  Workload = "zero-window" // the server stops reading; the client's writes block
	Connect     Workload = "connect"     // a dial into a path that is already cut
)

// Workloads lists the workloads in table order.
func Workloads() []Workload {
	return []Workload{Idle, Sending, Receiving, Replication, ZeroWindow, Connect}
}

// State is the kernel state a workload puts the client's socket in.
func (w Workload) State() flatline.State {
	switch w {
	case Sending, Replication:
		return flatline.StateSending
	case Receiving:
		return flatline.StateReceiving
	case ZeroWindow:
		return flatline.StateClosedWindow
	case Connect:
		return flatline.StateConnecting
	default:
		return flatline.StateIdle
	}
}

// Faults applied by a cell on top of the router's faults (Topology.Apply):
// they act on the server process or are timed sequences.
const (
	PeerFrozen Fault = "peer-frozen" // SIGSTOP the server process: its kernel still answers
	PeerReboot Fault = "peer-reboot" // blackhole, kill the server, heal: the peer's kernel answers with RST
	Reset      Fault = "reset"       // an RST arrives: the server aborts the connection (SO_LINGER 0)
	Blip       Fault = "blip"        // a blackhole shorter than one keepalive interval, then heal
)

// MatrixFaults lists every fault of the matrix in table order.
func MatrixFaults() []Fault {
	return append([]Fault{Blackhole, LinkDown, OneWayOut, OneWayIn, PeerFrozen, PeerPaused, PeerReboot, Reset, Blip}, PathFaults()...)
}

// ConfigName names one of the configurations the lab compares.
type ConfigName string

// The configurations, from what Go does by default to flatline.
const (
	GoDefault            ConfigName = "go-default"             // a zero net.Dialer: keepalive 15 s/15 s/9
	KeepaliveOnly        ConfigName = "keepalive-only"         // the story's 10 s/10 s/2, scaled to T, no user timeout
	KeepaliveUserTimeout ConfigName = "keepalive+user-timeout" // the story's fix: the same plus TCP_USER_TIMEOUT = T
	Flatline             ConfigName = "flatline"               // flatline.Config{Timeout: T}
	Enforced             ConfigName = "enforced"               // a zero net.Dialer in a cgroup under flatline enforce at T
	Applied              ConfigName = "applied"                // a zero net.Dialer fixed mid-life by flatline apply at T
)

// Configs lists the configurations in table order.
func Configs() []ConfigName {
	return []ConfigName{GoDefault, KeepaliveOnly, KeepaliveUserTimeout, Flatline, Enforced, Applied, FlatlineHeartbeat}
}

// storySettings scales the original story's keepalive (10 s idle, 10 s
// interval, 2 probes: dead after 30 s) to timeout t: idle and interval t/3
// rounded to whole seconds (at least 1 s), 2 probes.
func storySettings(t time.Duration, userTimeout bool) flatline.Settings {
	third := (t / 3).Round(time.Second)
	if third < time.Second {
		third = time.Second
	}
	s := flatline.Settings{KeepAlive: true, Idle: third, Interval: third, Count: 2}
	if userTimeout {
		s.UserTimeout = t
	}
	return s
}

// Settings returns the socket options configuration c sets at timeout t.
func (c ConfigName) Settings(t time.Duration) (flatline.Settings, error) {
	switch c.socketConfig() {
	case GoDefault:
		return flatline.GoDialerSettings(), nil
	case KeepaliveOnly:
		return storySettings(t, false), nil
	case KeepaliveUserTimeout:
		return storySettings(t, true), nil
	case Flatline, Enforced, Applied:
		p, err := flatline.Config{Timeout: t}.Plan()
		if err != nil {
			return flatline.Settings{}, err
		}
		return p.Settings, nil
	}
	return flatline.Settings{}, fmt.Errorf("lab: unknown configuration %q", c)
}

// Bound returns what configuration c promises at timeout t in state s, in a
// namespace with host's defaults: flatline's own Plan for flatline,
// enforced and applied (but go-default's for an applied dial), the kernel
// arithmetic of flatline.Settings.Bounds for the others.
func (c ConfigName) Bound(t time.Duration, s flatline.State, host flatline.Host) (flatline.Bound, error) {
	if c == Applied && s == flatline.StateConnecting {
		c = GoDefault // apply changes sockets that exist: a dial is Go's own
	}
	if c.socketConfig() == Flatline || c == Enforced || c == Applied {
		p, err := flatline.Config{Timeout: t}.Plan()
		if err != nil {
			return flatline.Bound{}, err
		}
		return p.Bound(s), nil
	}
	set, err := c.Settings(t)
	if err != nil {
		return flatline.Bound{}, err
	}
	return set.Bounds(host).Of(s), nil
}

// Cell is one measurement: a workload, a fault and a configuration.
type Cell struct {
	Workload Workload   `json:"workload"`
	Fault    Fault      `json:"fault"`
	Config   ConfigName `json:"config"`
}

// Name is "workload/fault/config", what --only matches.
func (c Cell) Name() string {
	return string(c.Workload) + "/" + string(c.Fault) + "/" + string(c.Config)
}

// sensible reports whether the fault means something for the workload: a
// dial happens into a path that is already cut, so only the router's faults
// apply to it.
func sensible(w Workload, f Fault) bool {
	switch f {
	case MiddleboxExpiry:
		return w == Idle // the middlebox forgets idle flows
	case Latency50, Latency300:
		return w == Idle || w == Sending
	case Loss1, Loss5:
		return w == Idle || w == Sending || w == Replication
	case Rate:
		return w == Sending
	case MTUBlackhole:
		return w == Idle || w == Sending
	}
	if w != Connect {
		return true
	}
	switch f {
	case Blackhole, LinkDown, OneWayOut, OneWayIn:
		return true
	}
	return false
}

// Matrix returns the cells of a run: every sensible workload × fault ×
// configuration, or with quick the subset that shows the lesson (the
// cells the integration tests assert). only, if not empty, keeps the cells
// whose Name matches it as a path.Match pattern or contains it.
func Matrix(quick bool, only string) ([]Cell, error) {
	if only != "" {
		if _, err := path.Match(only, ""); err != nil {
			return nil, fmt.Errorf("lab: bad --only pattern %q: %w", only, err)
		}
	}
	var cells []Cell
	for _, f := range MatrixFaults() {
		for _, w := range Workloads() {
			if !sensible(w, f) {
				continue
			}
			for _, c := range Configs() {
				if !fits(c, w) || !pathConfig(f, c) {
					continue
				}
				cell := Cell{Workload: w, Fault: f, Config: c}
				if quick && !inQuick(cell) {
					continue
				}
				if only != "" && !matches(only, cell.Name()) {
					continue
				}
				cells = append(cells, cell)
			}
		}
	}
	return cells, nil
}

func matches(pattern, name string) bool {
	if ok, _ := path.Match(pattern, name); ok {
		return true
	}
	for i := 0; i+len(pattern) <= len(name); i++ {
		if name[i:i+len(pattern)] == pattern {
			return true
		}
	}
	return false
}

// inQuick is the --quick subset: the lesson in as few cells as keep it
// whole.
func inQuick(c Cell) bool {
	if quick, decided := heartbeatQuick(c); decided {
		return quick
	}
	switch c.Fault {
	case Blackhole:
		switch c.Workload {
		case Idle, Sending:
			return true // every configuration: keepalive vs user timeout
		case ZeroWindow:
			return false
		}
		return c.Config == Flatline
	case LinkDown:
		return c.Config == Flatline && c.Workload != ZeroWindow
	case Blip:
		return c.Workload == Idle || c.Workload == Sending && c.Config == Flatline
	case MiddleboxExpiry:
		return c.Config == GoDefault || c.Config == Flatline
	case Latency300, Loss5, MTUBlackhole:
		return c.Config == Flatline
	case PeerFrozen:
		return c.Workload == Idle ||
			c.Workload == ZeroWindow && (c.Config == Flatline || c.Config == KeepaliveOnly)
	}
	return false
}

// Verdict is a cell's judgement.
type Verdict string

// Verdicts of a cell.
const (
	InTime    Verdict = "in-time"    // the application saw an error within what the configuration promises
	Late      Verdict = "late"       // it saw one, later than promised
	Never     Verdict = "never"      // it saw none within the cell's cap
	Survived  Verdict = "survived"   // a blip: the connection lived, as it should
	FalseKill Verdict = "false-kill" // a blip killed a connection that promises to tolerate a lost probe
	Errored   Verdict = "error"      // the cell could not be measured; CellResult.Error says why
)

// verdict judges a measurement. mustSurvive is a blip that the
// configuration promises to ride out; deadline is the promise's latest
// moment (Worst+Slack, plus the workload's own period), expectNever that
// nothing is promised; detected is nil when no error came within the cap.
func verdict(mustSurvive, expectNever bool, deadline time.Duration, detected *time.Duration) Verdict {
	switch {
	case mustSurvive && detected == nil:
		return Survived
	case mustSurvive:
		return FalseKill
	case detected == nil:
		return Never
	case expectNever || *detected <= deadline:
		return InTime
	default:
		return Late
	}
}
