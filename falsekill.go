package flatline

import (
	"fmt"
	"math"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// FalseKill is the false-kill model's prediction for one State: how often
// a connection whose peer is alive is declared dead when the path drops
// packets at random, and the longest outage it always survives. The model
// (internal/kernel's FalseKills, checked against a simulation of the
// kernel's timers and against soaks with nftables random loss) is
// described in docs/false-kills.md.
type FalseKill struct {
	State State
	// PerHour is the expected false kills per connection-hour spent in
	// the state. Sending counts one write a second; connecting counts one
	// dial an hour (the chance that a dial fails).
	PerHour float64
	// OutageSurvived is the longest total outage (both ways) a
	// connection always survives, wherever in the state it starts.
	OutageSurvived time.Duration
	// Exchanges is how many packet exchanges (probe and answer, segment
	// and acknowledgement) must all fail for one kill.
	Exchanges int
	// Never is true when nothing in the state ends a live connection.
	Never bool
	// Rule says in one line what decides.
	Rule string
}

// LossForecast is a plan's false-kill forecast at one loss rate.
type LossForecast struct {
	// Loss is the random loss each way, 0.01 for 1 %.
	Loss float64
	// States holds one FalseKill per State, in the order of States.
	States []FalseKill
	// Notes say where the plan cannot keep a live connection safe at this
	// loss, with the numbers, and what works instead.
	Notes []string
}

// State returns the forecast for s, and a Never one for a state the
// forecast does not know.
func (f LossForecast) State(s State) FalseKill {
	for _, k := range f.States {
		if k.State == s {
			return k
		}
	}
	return FalseKill{State: s, Never: true, Rule: "unknown state"}
}

// FalseKills predicts, for every State, the false kills of a Linux socket
// with these settings on host h when the path drops packets at random with
// probability loss each way (in [0, 1)), on a short path (RTO 200 ms).
// RTOMax counts only where h's kernel has TCP_RTO_MAX_MS (6.15+; an
// unknown kernel is taken to have it, and Plan.FalseKills's notes say what
// an older one gets).
// connect is the dial deadline (zero: none). The closed-window state is
// given the sending state's figures: zero-window probes back off as
// retransmissions do, and the user timeout ends them the same way.
func (s Settings) FalseKills(h Host, loss float64, connect time.Duration) ([]FalseKill, error) {
	if !rtoMaxApplies(h) {
		s.RTOMax = 0 // the kernel skips TCP_RTO_MAX_MS
	}
	f, err := kernel.FalseKills(kernel.Exposure{
		Options:        kernel.Options(s),
		HZ:             h.HZ,
		Retries2:       h.Retries2,
		SynRetries:     h.SynRetries,
		SynLinear:      h.SynLinearTimeouts,
		ConnectTimeout: connect,
		Path:           kernel.Path{Loss: loss},
	})
	if err != nil {
		return nil, fmt.Errorf("flatline: %w", err)
	}
	closed := f.Sending
	closed.Rule = "as sending (zero-window probes back off like retransmissions): " + closed.Rule
	if s.UserTimeout == 0 {
		closed = kernel.Risk{Never: true, Rule: "no TCP_USER_TIMEOUT: persist probes go on while the peer answers"}
	}
	return []FalseKill{
		falseKillOf(StateIdle, f.Idle),
		falseKillOf(StateSending, f.Sending),
		falseKillOf(StateReceiving, f.Receiving),
		falseKillOf(StateClosedWindow, closed),
		falseKillOf(StateConnecting, f.Connecting),
	}, nil
}

// falseKillOf converts the kernel model's risk for one state.
func falseKillOf(st State, r kernel.Risk) FalseKill {
	return FalseKill{State: st, PerHour: r.PerHour, OutageSurvived: r.OutageSurvived, Exchanges: r.Exchanges, Never: r.Never, Rule: r.Rule}
}

// FalseKills forecasts the plan's false kills at random loss each way
// (0.01 for 1 %), on the plan's Host (its HZ and sysctls), and says in
// Notes where no keepalive plan within Timeout keeps an idle connection
// below DesignFalseKills(Timeout) at that loss, and what does.
func (p Plan) FalseKills(loss float64) (LossForecast, error) {
	states, err := p.Settings.FalseKills(p.Host, loss, p.ConnectTimeout)
	if err != nil {
		return LossForecast{}, err
	}
	f := LossForecast{Loss: loss, States: states}
	f.Notes = lossNotes(p, f.State(StateIdle), loss)
	if n := rtoMaxNote(p, loss); n != "" {
		f.Notes = append(f.Notes, n)
	}
	return f, nil
}

// rtoMaxApplies is whether h's kernel sets TCP_RTO_MAX_MS: 6.15 and
// later, or an unknown kernel.
func rtoMaxApplies(h Host) bool {
	v, ok := kernel.ParseVersion(h.Kernel)
	return !ok || kernel.RTOMaxSupported(v)
}

// rtoMaxNote says what a busy connection gets where the kernel has no
// TCP_RTO_MAX_MS (before 6.15): the kernel's doubling RTO, fewer
// retransmissions within the user timeout.
func rtoMaxNote(p Plan, loss float64) string {
	if p.Settings.RTOMax == 0 {
		return ""
	}
	v, known := kernel.ParseVersion(p.Host.Kernel)
	if known && kernel.RTOMaxSupported(v) {
		return ""
	}
	uncapped := p.Settings
	uncapped.RTOMax = 0
	states, err := uncapped.FalseKills(p.Host, loss, p.ConnectTimeout)
	if err != nil {
		return ""
	}
	capped := p.Settings
	h := p.Host
	h.Kernel = ""
	withCap, err := capped.FalseKills(h, loss, p.ConnectTimeout)
	if err != nil {
		return ""
	}
	who := "a kernel before 6.15"
	if known {
		who = "kernel " + v.String()
	}
	return fmt.Sprintf("%s has no TCP_RTO_MAX_MS (Linux 6.15+): the %v cap on the retransmission timeout is not set there, and a busy connection at %.3g %% loss gets %d transmissions of a write within the user timeout instead of %d: %.3g false kills an hour instead of %.3g (one write a second)",
		who, p.Settings.RTOMax, loss*100, states[1].Exchanges, withCap[1].Exchanges, states[1].PerHour, withCap[1].PerHour)
}

// lossNotes says, when the plan's idle false kills at loss are above
// DesignFalseKills(Timeout), whether any keepalive chain within Timeout
// does better, and names a Timeout whose default plan is below it.
func lossNotes(p Plan, idle FalseKill, loss float64) []string {
	target := DesignFalseKills(p.Timeout)
	if idle.Never || idle.PerHour <= target {
		return nil
	}
	pct := loss * 100
	note := fmt.Sprintf("at %.3g %% loss each way an idle connection with %v/%v/%d is falsely killed %.3g times an hour (all %d probe exchanges of a keepalive cycle lost)",
		pct, p.Settings.Idle, p.Settings.Interval, p.Settings.Count, idle.PerHour, idle.Exchanges)
	bi, bn, best := bestChain(p.Timeout, loss)
	noSpread, err := Config{Timeout: p.Timeout, Spread: NoSpread}.derive()
	switch {
	case p.Spread > 0 && err == nil && idleFalseKills(noSpread.s.Idle, noSpread.s.Interval, noSpread.s.Count, loss) <= target:
		ns := noSpread.s
		note += fmt.Sprintf("; the planner kept a second of spread for connections made together: with Spread NoSpread it gives %v/%v/%d, %.3g an hour (but connections made together then probe together)",
			ns.Idle, ns.Interval, ns.Count, idleFalseKills(ns.Idle, ns.Interval, ns.Count, loss))
	case best > target:
		note += fmt.Sprintf("; no keepalive plan within Timeout %v does better than %.3g an hour (%v idle and %d probes 1 s apart): the budget has room for %d exchanges", p.Timeout, best, bi, bn, bn)
	default:
		note += fmt.Sprintf("; a chain of %v idle and %d probes 1 s apart within the same Timeout gives %.3g (set Idle, Interval and Count)", bi, bn, best)
	}
	what := "an application heartbeat on a connection of its own (package liveness), which retransmits its pings within Timeout"
	if t, ok := timeoutFor(loss, p.Timeout); ok {
		what += fmt.Sprintf(", or a Timeout of %v (its default plan: below %.0e an hour)", t, DesignFalseKills(t))
	}
	return []string{note + "; what works: " + what}
}

// bestChain is the keepalive chain within t with the fewest false kills
// at loss: 1 s apart, every idle second from 1 s, on a kernel of unknown HZ.
func bestChain(t time.Duration, loss float64) (time.Duration, int, float64) {
	bestI, bestN, best := time.Second, 1, math.Inf(1)
	for i := time.Second; i+2*time.Second <= t; i += time.Second {
		n := int((t - i) / time.Second)
		if r := idleFalseKills(i, time.Second, n, loss); r < best {
			bestI, bestN, best = i, n, r
		}
	}
	return bestI, bestN, best
}

// designLossNotes is what Plan.Notes says about loss: where an idle
// connection at DesignLoss is falsely killed more often than
// DesignFalseKills(Timeout), the numbers and what works.
func designLossNotes(p Plan) []string {
	r, err := kernel.KeepaliveRisk(kernel.Options(p.Settings), p.Host.HZ, DesignLoss)
	if err != nil {
		return nil
	}
	return lossNotes(p, falseKillOf(StateIdle, r), DesignLoss)
}

// timeoutFor is the smallest whole-second Timeout above t, up to 10
// minutes, whose default plan keeps an idle connection below its
// DesignFalseKills at loss.
func timeoutFor(loss float64, t time.Duration) (time.Duration, bool) {
	for c := t.Truncate(time.Second) + time.Second; c <= 10*time.Minute; c += time.Second {
		d, err := Config{Timeout: c}.derive()
		if err != nil {
			continue
		}
		if idleFalseKills(d.s.Idle, d.s.Interval, d.s.Count, loss) <= DesignFalseKills(c) {
			return c, true
		}
	}
	return 0, false
}
