package storm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/flatline-dev/flatline"
)

// Keepalive is one connection's keepalive settings, as the kernel takes
// them: Idle and Interval in whole seconds, UserTimeout in milliseconds.
type Keepalive struct {
	Idle        time.Duration // TCP_KEEPIDLE
	Interval    time.Duration // TCP_KEEPINTVL
	Count       int           // TCP_KEEPCNT
	UserTimeout time.Duration // TCP_USER_TIMEOUT; 0 = none
}

// Strategy is a way to de-phase the keepalive timers of connections made
// together.
type Strategy string

const (
	// Static arms every connection at its creation with the same settings:
	// the original storm.
	Static Strategy = "static"
	// Jitter lowers each connection's Idle by a random whole number of
	// seconds in [0, spread], arming at creation.
	Jitter Strategy = "jitter"
	// Coprime gives connections Idle values, in whole seconds in
	// [Idle-spread, Idle], that are pairwise coprime and coprime to the
	// Interval, round robin, arming at creation.
	Coprime Strategy = "coprime"
	// Offsets keeps the settings and arms keepalive (SO_KEEPALIVE off and
	// on) after a uniform random delay in [0, spread): flatline's Spread.
	Offsets Strategy = "offsets"
	// Golden arms like Offsets but takes the delays from a golden-ratio
	// (Weyl) sequence with a random start instead of independent draws:
	// connections made in a row land in evenly filled buckets, so the worst
	// burst is the timer wheel's floor instead of the largest random pile.
	Golden Strategy = "golden"
	// OffsetsCoprime combines Offsets and Coprime within the same budget:
	// half of spread for each.
	OffsetsCoprime Strategy = "offsets+coprime"
)

// Strategies lists every strategy the model knows, the original first.
func Strategies() []Strategy {
	return []Strategy{Static, Jitter, Coprime, Offsets, Golden, OffsetsCoprime}
}

// Plan is what a strategy does to one connection.
type Plan struct {
	Delay time.Duration // from creation to arming keepalive
	Idle  time.Duration // the connection's TCP_KEEPIDLE
}

// Planner hands out per-connection plans for one strategy. Spread is the
// budget the strategy may use: the longest arming delay (Offsets) or the
// largest reduction of Idle (Jitter, Coprime), both keeping the worst-case
// detection within Idle + Count·Interval + Spread.
type Planner struct {
	Strategy  Strategy
	Keepalive Keepalive
	Spread    time.Duration
	Rand      *rand.Rand // nil: a fresh random source
	n         int
	idles     []time.Duration
	start     float64
}

// GoldenOffset is the i-th delay in [0, spread) of the golden-ratio
// sequence starting at start (in [0, 1)): frac(start + i/φ)·spread. Any run
// of consecutive delays fills [0, spread) almost evenly.
func GoldenOffset(start float64, i int, spread time.Duration) time.Duration {
	const invPhi = 0.6180339887498949
	x := start + float64(i)*invPhi
	x -= math.Floor(x)
	return time.Duration(x * float64(spread))
}

// Next returns the plan for the next connection.
func (p *Planner) Next() (Plan, error) {
	if p.Rand == nil {
		p.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	k := p.Keepalive
	if k.Idle < time.Second || k.Interval < time.Second {
		return Plan{}, fmt.Errorf("storm: %s: idle %v and interval %v must be at least 1s", p.Strategy, k.Idle, k.Interval)
	}
	defer func() { p.n++ }()
	switch p.Strategy {
	case Static:
		return Plan{Idle: k.Idle}, nil
	case Jitter:
		j := wholeSeconds(p.Spread, k.Idle)
		return Plan{Idle: k.Idle - time.Duration(p.Rand.IntN(j+1))*time.Second}, nil
	case Coprime:
		return Plan{Idle: p.coprime(p.Spread)}, nil
	case Offsets, Flatline:
		return Plan{Delay: p.offset(p.Spread), Idle: k.Idle}, nil
	case Golden:
		if p.n == 0 {
			p.start = p.Rand.Float64()
		}
		return Plan{Delay: GoldenOffset(p.start, p.n, p.Spread), Idle: k.Idle}, nil
	case OffsetsCoprime:
		return Plan{Delay: p.offset(p.Spread / 2), Idle: p.coprime(p.Spread / 2)}, nil
	}
	return Plan{}, fmt.Errorf("storm: unknown strategy %q", p.Strategy)
}

func (p *Planner) offset(spread time.Duration) time.Duration {
	if spread <= 0 {
		return 0
	}
	return time.Duration(p.Rand.Int64N(int64(spread)))
}

func (p *Planner) coprime(spread time.Duration) time.Duration {
	if p.idles == nil {
		p.idles = CoprimeIdles(p.Keepalive.Idle, p.Keepalive.Interval, spread)
	}
	return p.idles[p.n%len(p.idles)]
}

// wholeSeconds is spread in whole seconds, at most idle-1s.
func wholeSeconds(spread, idle time.Duration) int {
	j := int(spread / time.Second)
	if m := int(idle/time.Second) - 1; j > m {
		j = m
	}
	return max(j, 0)
}

// CoprimeIdles returns whole-second idle values in [idle-spread, idle],
// largest first, each coprime to the interval (in seconds) and to every
// value before it. idle itself is always first.
func CoprimeIdles(idle, interval, spread time.Duration) []time.Duration {
	top := int64(idle / time.Second)
	ivl := int64(interval / time.Second)
	lo := top - int64(wholeSeconds(spread, idle))
	out := []time.Duration{time.Duration(top) * time.Second}
	picked := []int64{top}
	for v := top - 1; v >= lo && v >= 1; v-- {
		ok := gcd(v, ivl) == 1
		for _, q := range picked {
			ok = ok && gcd(v, q) == 1
		}
		if ok {
			picked = append(picked, v)
			out = append(out, time.Duration(v)*time.Second)
		}
	}
	return out
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Conns plans n connections created at the given times (nil: all at zero)
// with strategy s and returns them ready for Model.Run.
func Conns(s Strategy, k Keepalive, spread time.Duration, created []time.Duration, n int, r *rand.Rand) ([]Conn, error) {
	p := Planner{Strategy: s, Keepalive: k, Spread: spread, Rand: r}
	out := make([]Conn, n)
	for i := range out {
		pl, err := p.Next()
		if err != nil {
			return nil, err
		}
		var at time.Duration
		if i < len(created) {
			at = created[i]
		}
		out[i] = Conn{Established: at, Arm: at + pl.Delay, Idle: pl.Idle, Interval: k.Interval, Count: k.Count, UserTimeout: k.UserTimeout}
	}
	return out, nil
}

// Flatline is the library's own de-phasing: connections dialed with a
// flatline.Dialer, whose Config.Spread re-arms keepalive after a random
// delay. In the model it is Offsets with the plan's Spread.
const Flatline Strategy = "flatline"

// KeepaliveOf is the part of a plan's settings the model needs.
func KeepaliveOf(s flatline.Settings) Keepalive {
	return Keepalive{Idle: s.Idle, Interval: s.Interval, Count: s.Count, UserTimeout: s.UserTimeout}
}
