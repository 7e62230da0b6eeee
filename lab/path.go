package lab

import (
	"math"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/topology"
)

// Path faults: a middlebox on the path, or a path that is slow, lossy,
// narrow or drops large segments. Unlike the faults of Topology.Apply they
// are in place before the connection is made (a middlebox tracks a flow
// from its SYN; a path's delay is measured by the handshake).
const (
	// MiddleboxExpiry makes the router a stateful middlebox (connection
	// tracking) that forgets a flow idle for MiddleboxTimeout and drops
	// the packets of flows it does not know, as cloud load balancers and
	// NAT gateways do (AWS NLB 350 s, Azure LB 4 min, GCP Cloud NAT
	// 1200 s). The connection stays idle for twice that, then sends a
	// request: it survives if the request is acknowledged.
	MiddleboxExpiry Fault = "middlebox-expiry"

	// Latency50 and Latency300 give the path a round-trip time of 50 ms
	// and 300 ms with 10 % jitter (netem in the router), then cut it (a
	// blackhole): a busy connection's first retransmission comes two round
	// trips and an RTO after the send, and its bound moves with it
	// (flatline.Plan.On).
	Latency50  Fault = "latency-50ms"
	Latency300 Fault = "latency-300ms"
	// Loss1 and Loss5 drop 1 % and 5 % of the packets each way at random
	// (nftables numgen in the router, so no netem needed) for the whole
	// cell: a healthy connection must not be killed over the soak (the
	// cell's cap). For many connections over minutes, see RunSoak.
	Loss1 Fault = "loss-1pct"
	Loss5 Fault = "loss-5pct"
	// Rate limits the path to 256 kbit/s each way (netem), below the
	// sending workload's 320 kbit/s: the queue and the RTT grow, and a
	// healthy connection must not be killed over the soak.
	Rate Fault = "rate"
	// MTUBlackhole drops packets longer than 1000 bytes at the fault (an
	// MTU black hole: a tunnel whose ICMP "fragmentation needed" never
	// arrives). Keepalive probes are small and pass: an idle connection
	// stays alive; only the user timeout ends a sending one.
	MTUBlackhole = topology.MTUBlackhole
)

// PathFaults lists the path faults in table order.
func PathFaults() []Fault {
	return []Fault{Latency50, Latency300, Loss1, Loss5, Rate, MTUBlackhole, MiddleboxExpiry}
}

// shapeOf returns the netem shaping of fault f, ok false for a fault
// without one.
func shapeOf(f Fault) (s topology.Shaping, ok bool) {
	switch f {
	case Latency50:
		return topology.Shaping{Delay: 25 * time.Millisecond, Jitter: 2500 * time.Microsecond}, true
	case Latency300:
		return topology.Shaping{Delay: 150 * time.Millisecond, Jitter: 15 * time.Millisecond}, true
	case Rate:
		return topology.Shaping{RateBytes: 256_000 / 8}, true
	}
	return topology.Shaping{}, false
}

// randomLossOf returns the random loss of fault f, ok false for a fault
// without one.
func randomLossOf(f Fault) (l Loss, ok bool) {
	switch f {
	case Loss1:
		return 10, true
	case Loss5:
		return 50, true
	}
	return 0, false
}

// Skipped is the verdict of a cell this kernel cannot run (netem
// missing): Error says why.
const Skipped Verdict = "skipped"

// MiddleboxTimeout is how long the lab's middlebox remembers an idle flow:
// shorter than Go's default keepalive idle (15 s), as a 350 s load
// balancer is shorter than Linux's default (2 h), and longer than the
// keepalive idle of every other configuration at the lab's T = 3 s.
const MiddleboxTimeout = 10 * time.Second

// middleboxSoak is how long a middlebox cell stays idle before its
// request, and middleboxAnswer how long the request may wait for its
// acknowledgement: a few retransmissions on a short path.
const (
	middleboxSoak   = 2 * MiddleboxTimeout
	middleboxAnswer = 3 * time.Second
)

// Lost is the verdict of a cell whose healthy connection a path fault
// took away: the middlebox forgot it, or it was killed although the peer
// was alive.
const Lost Verdict = "lost"

// survivalFault reports whether under fault f the peer stays alive, so
// that the cell asks whether the connection survives rather than how soon
// a dead peer is noticed.
func survivalFault(f Fault) bool {
	switch f {
	case Blip, PeerFrozen, PeerPaused, MiddleboxExpiry, Loss1, Loss5, Rate:
		return true
	}
	return false
}

// pathConfig reports whether configuration c runs under fault f: the path
// faults compare the four socket configurations (Go's default, the
// story's two, flatline's own), whose dialers they use directly.
func pathConfig(f Fault, c ConfigName) bool {
	for _, p := range PathFaults() {
		if f == p {
			return c == GoDefault || c == KeepaliveOnly || c == KeepaliveUserTimeout || c == Flatline
		}
	}
	return true
}

// pathMustSurvive reports whether a path fault is one cell's connection
// must live through: a lossy or narrow path, an MTU black hole under an
// idle connection (its probes are small).
func pathMustSurvive(cell Cell) bool {
	switch cell.Fault {
	case Loss1, Loss5, Rate:
		return true
	case MTUBlackhole:
		return cell.Workload == Idle
	}
	return false
}

// survivalRule is the rule of a cell that must survive, "" for others.
func survivalRule(cell Cell) string {
	switch cell.Fault {
	case Loss1, Loss5:
		return "random loss on a live path must not kill: keepalive tolerates lost probes, the user timeout counts from the first retransmission"
	case Rate:
		return "a narrow path slows a live connection; its data keeps being acknowledged, so nothing may kill it"
	case MTUBlackhole:
		if cell.Workload == Idle {
			return "keepalive probes are small and pass an MTU black hole: the idle connection stays alive"
		}
	}
	return ""
}

// AtRisk is the verdict of a cell on a lossy path whose connection died
// where the false-kill model (flatline's Settings.FalseKills, the random
// loss each way of the fault) gave it at least atRiskChance of dying in the
// cell's time: a risk the plan states (`flatline plan --loss`), not a
// broken promise. At T = 3 s, 1s/1s/2 at 5 % loss dies in a 30 s cell with
// a chance of about 22 %: a 3 s budget has room for two probe exchanges.
const AtRisk Verdict = "at-risk"

// atRiskChance is the least predicted chance of a false kill within a lossy
// cell's time for which the lab does not hold its connection to survival.
const atRiskChance = 0.01

// lossKillChance is the false-kill model's chance that cell's connection,
// on its configuration's settings for timeout t, dies on the fault's random
// loss within hold (a dial: that it fails); ok is false for a fault without
// random loss or settings the model cannot judge.
func lossKillChance(cell Cell, t time.Duration, host flatline.Host, hold time.Duration) (float64, bool) {
	l, ok := randomLossOf(cell.Fault)
	if !ok {
		return 0, false
	}
	s, err := cell.Config.socketConfig().Settings(t)
	if err != nil {
		return 0, false
	}
	ks, err := s.FalseKills(host, l.Fraction(), t)
	if err != nil {
		return 0, false
	}
	for _, k := range ks {
		if k.State != cell.Workload.State() {
			continue
		}
		if cell.Workload == Connect {
			return 1 - math.Exp(-k.PerHour), true // one dial
		}
		return 1 - math.Exp(-k.PerHour*hold.Hours()), true
	}
	return 0, false
}
