package flatline

import (
	"fmt"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// DefaultTimeout is the Timeout of a zero Config.
const DefaultTimeout = 30 * time.Second

// NoSpread, as Config.Spread, turns spreading off: every connection arms
// keepalive the moment it is made.
const NoSpread time.Duration = -1

// DefaultMaxIdle is the MaxIdle of a zero Config: below the idle timeouts
// of common cloud middleboxes (Azure Load Balancer 4 min, AWS NLB and NAT
// gateway 350 s, GCP Cloud NAT 1200 s) even when one keepalive probe is
// lost: idle + interval ≤ 200 s, plus the timer wheel's 2 s per firing.
const DefaultMaxIdle = 100 * time.Second

// NoMaxIdle, as Config.MaxIdle, turns the bound off: keepalive idle and
// interval follow Timeout alone.
const NoMaxIdle time.Duration = -1

// Limits of the derivation and of the kernel.
const (
	// MinTimeout is the shortest Timeout: keepalive idle and interval are
	// whole seconds, so idle 1 s and two probes 1 s apart take 3 s, the
	// least that tolerates one lost probe.
	MinTimeout = 3 * time.Second
	// MaxTimeout is the longest Timeout flatline derives and checks.
	MaxTimeout = 24 * time.Hour

	maxKeepaliveSeconds = kernel.MaxKeepaliveSeconds
	maxKeepaliveCount   = kernel.MaxKeepaliveCount
	maxUserTimeout      = kernel.MaxUserTimeout
)

// Config is what a program promises about its TCP connections: a dead peer
// is noticed within Timeout, whatever the connection is doing. The zero
// value works: Timeout 30 s, everything else derived from it (see Plan and
// the package documentation for the arithmetic).
type Config struct {
	// Timeout is the longest a dead peer may go unnoticed, whatever the
	// connection is doing: idle, sending, receiving, waiting on a closed
	// window or connecting. Zero means DefaultTimeout (30 s). At least
	// MinTimeout (3 s), at most MaxTimeout (24 h).
	Timeout time.Duration

	// Idle sets TCP_KEEPIDLE (darwin: TCP_KEEPALIVE): how long a connection
	// is silent before the first keepalive probe, in whole seconds. Zero
	// means derive it from Timeout.
	Idle time.Duration

	// Interval sets TCP_KEEPINTVL: the time between keepalive probes, in
	// whole seconds. Zero means derive it from Timeout.
	Interval time.Duration

	// Count sets TCP_KEEPCNT: how many unanswered probes end the
	// connection, at most 127. Zero means derive it: as many probes 1 s
	// apart as the budget holds (15 for a 30 s Timeout, 5 for 10 s, 2 for
	// 3 s; see the package documentation and docs/false-kills.md).
	// A derived Count is the most probes a dead peer gets: the timers'
	// lateness may end the chain a probe or two earlier (Bound.LostProbes).
	Count int

	// UserTimeout sets TCP_USER_TIMEOUT (Linux, milliseconds; darwin:
	// TCP_RXT_CONNDROPTIME, windows: TCP_MAXRT, whole seconds rounded up):
	// how long sent data may stay unacknowledged, counted from the first
	// retransmission by timeout (FirstRetransmission, ≈400 ms, after the
	// first unacknowledged send on a short path). On Linux it also replaces Count for keepalive,
	// so it must lie in (Idle + (Count-1)·Interval, Idle + Count·Interval].
	// Zero means Idle + Count·Interval − FirstRetransmission (400 ms):
	// sending then ends when an idle connection does (Count 1: Idle +
	// Interval).
	UserTimeout time.Duration

	// ConnectTimeout bounds a dial: the deadline of the dial (as
	// net.Dialer.Timeout, the earlier of the two wins). On Linux the user
	// timeout already ends a dial into a silent path, so the deadline is
	// only set when ConnectTimeout is shorter than it. Zero means Timeout.
	ConnectTimeout time.Duration

	// Spread de-phases connections made together: each new connection
	// re-arms its keepalive timer after a random delay in [0, Spread), so
	// that their probes do not leave in one burst. The delay adds to the
	// idle worst case, so it is bounded by what Timeout leaves after
	// Idle + Count·Interval. Zero means derive it: that remainder, at most
	// Idle. NoSpread turns it off.
	Spread time.Duration

	// MaxIdle bounds how long a healthy idle connection goes without a
	// packet, for paths through middleboxes that forget idle flows (load
	// balancers, NAT gateways, stateful firewalls) and then drop the
	// connection's next segment: derived keepalive idle (TCP_KEEPIDLE) and
	// interval (TCP_KEEPINTVL) are at most MaxIdle, whole seconds rounded
	// down, and an Idle or Interval set above it is an error. Zero means
	// DefaultMaxIdle (100 s); NoMaxIdle turns the bound off. It matters
	// only from a Timeout of about 6.5 minutes (395 s).
	MaxIdle time.Duration

	// RTOMax sets TCP_RTO_MAX_MS (Linux 6.15+; not set on older kernels
	// or other systems): the cap on each backed-off retransmission
	// timeout, whole milliseconds, 1 s to 120 s. A lower cap fits more
	// retransmissions of a segment into UserTimeout, so that random loss
	// does not end a busy connection whose peer is alive. Zero means
	// derive it: the longest whole-second cap that keeps a connection
	// writing every second below DesignFalseKills(Timeout) at DesignLoss,
	// and none where the kernel's own backoff already does or no cap can.
	// NoRTOMax turns it off.
	RTOMax time.Duration
}

// NoRTOMax, as Config.RTOMax, leaves the kernel's retransmission backoff
// cap (120 s) alone.
const NoRTOMax time.Duration = -1

// ConfigError is a Config that cannot keep its promise. Field names the
// first field at fault.
type ConfigError struct {
	Field string
	Msg   string
}

func (e *ConfigError) Error() string { return "flatline: " + e.Msg }

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

func configErr(field, format string, a ...any) error {
	return &ConfigError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Validate reports the first setting that cannot keep the promise, in a
// sentence that says what to change; nil if the Config is sound. The error
// is a *ConfigError and matches ErrInvalidConfig.
func (c Config) Validate() error {
	_, err := c.derive()
	return err
}

// Plan derives the per-socket settings from c and returns them with the
// worst case to notice a silent peer in every state, for a stock Linux
// kernel of unknown HZ and version (LinuxDefaults: the timer slack is the
// largest over the common HZ values). It fails as Validate. It is a pure
// function of c: it reads nothing from the host; PlanFor takes the host.
func (c Config) Plan() (Plan, error) { return c.PlanFor(LinuxDefaults()) }

// PlanFor is Plan for a connection on host h (read once with ReadHost, or
// built by hand): the bounds use h's HZ and sysctls, and Notes say what
// h's kernel cannot promise (KernelNotes). The settings are the same on
// every host. It reads nothing itself.
func (c Config) PlanFor(h Host) (Plan, error) {
	d, err := c.derive()
	if err != nil {
		return Plan{}, err
	}
	p := newPlan(d, h)
	p.Notes = append(p.Notes, designLossNotes(p)...)
	return p, nil
}

// derived is a Config with every field decided and checked.
type derived struct {
	timeout, connect, spread time.Duration
	s                        Settings
	jitterN                  int           // kernel.JitterOffsets
	jitterStep               time.Duration // kernel.JitterStep
}

func (c Config) derive() (derived, error) {
	if err := c.checkFields(); err != nil {
		return derived{}, err
	}
	t := c.Timeout
	if t == 0 {
		t = DefaultTimeout
	}
	i, v, count, err := c.keepalive(t)
	if err != nil {
		return derived{}, err
	}
	chainDerived := c.Idle == 0 && c.Interval == 0 && c.Count == 0 && c.UserTimeout == 0
	if chainDerived {
		i, v, count = lossTolerantChain(t, i, v, count, c.Spread)
	}
	u := c.UserTimeout
	if u == 0 {
		u = derivedUserTimeout(i, v, count)
	}
	s := Settings{KeepAlive: true, Idle: i, Interval: v, Count: count, UserTimeout: u, RTOMax: c.rtoMax(t, u)}
	if err := s.checkLimits(); err != nil {
		return derived{}, err
	}
	check := s.checkConsistent
	if chainDerived {
		check = s.checkDerivedChain
	}
	if err := check(); err != nil {
		return derived{}, err
	}
	spread, err := c.spread(t, s)
	if err != nil {
		return derived{}, err
	}
	if u+FirstRetransmission > t {
		return derived{}, configErr("UserTimeout",
			"UserTimeout %v counts from the first retransmission, ≈%v after the first unacknowledged send, so sending data could go unnoticed %v, more than Timeout %v; set UserTimeout to at most %v",
			u, FirstRetransmission, u+FirstRetransmission, t, t-FirstRetransmission)
	}
	connect := c.ConnectTimeout
	if connect == 0 {
		connect = t
	}
	if connect > t {
		return derived{}, configErr("ConnectTimeout",
			"ConnectTimeout %v is longer than Timeout %v: a dial into a dead path would go unnoticed longer than promised; lower ConnectTimeout or raise Timeout", connect, t)
	}
	step := kernel.JitterStep(i)
	n := kernel.JitterOffsets(spread, t-(u+FirstRetransmission), step)
	return derived{timeout: t, connect: connect, spread: spread, s: s, jitterN: n, jitterStep: step}, nil
}

// probeChain is the planner's choice of keepalive probes for a promise of
// t whose probe chain must fit in budget (t, or the user timeout when the
// user timeout sizes the chain): two lost probes tolerated from a 10 s
// Timeout (Count 3), one below (Count 2), and an interval of budget/(count+3),
// whole seconds, at least 1 s. An override of Count replaces the derived
// count before the interval is sized. MaxIdle is applied by the caller.
func probeChain(t, budget time.Duration, count int) (int, time.Duration) {
	if count == 0 {
		count = 2
		if t >= 10*time.Second {
			count = 3
		}
	}
	return count, time.Duration(max(1, int(budget/time.Second)/(count+3))) * time.Second
}

// keepalive decides idle, interval and count: the overrides as set, the
// rest from probeChain, with derived idle and interval held under MaxIdle
// (underMaxIdle, the one place that bound is applied).
func (c Config) keepalive(t time.Duration) (i, v time.Duration, count int, err error) {
	sized := c.UserTimeout > 0 && c.Idle == 0 // the user timeout sizes the chain
	budget := t
	if sized {
		budget = c.UserTimeout
	}
	count, v = probeChain(t, budget, c.Count)
	if c.Interval != 0 {
		v = c.Interval
	} else {
		v = c.underMaxIdle(v)
	}
	switch {
	case sized:
		// Probes within the user timeout, idle whatever is left, so that
		// it equals Idle + Count·Interval to within one interval.
		var n int
		i, v, n = chainWithin(c.UserTimeout, v, c.Interval != 0, c.maxIdle(), count, c.Count != 0)
		if m := c.maxIdle(); m > 0 && i > m {
			// A chain of more probes would let the timer wheel's
			// accumulated lateness decide; say what to change instead.
			return 0, 0, 0, configErr("UserTimeout",
				"UserTimeout %v leaves a keepalive idle of %v, longer than MaxIdle %v: a middlebox that forgets idle flows would drop this connection while it is healthy; set Idle (at most %v) and Count to fit the user timeout, lower UserTimeout, or set MaxIdle to NoMaxIdle if no middlebox is on the path",
				c.UserTimeout, i, m, m)
		}
		if c.Count == 0 {
			count = n
		}
	case c.Idle == 0:
		i = c.underMaxIdle(idleWithin(t, count, v))
	default:
		i = c.Idle
		if c.UserTimeout > 0 && c.Count == 0 {
			// The user timeout decides how many probes fit after Idle.
			count = max(1, int((c.UserTimeout-i+v-1)/v))
		}
	}
	return i, v, count, nil
}

// idleWithin is the derived keepalive idle: half of what count probes v
// apart leave of t (the rest goes to spread), relatively prime to the
// interval where the budget allows, so that probes of connections with
// the same settings drift apart. At least 1 s.
func idleWithin(t time.Duration, count int, v time.Duration) time.Duration {
	secs, vs := int(t/time.Second), int(v/time.Second)
	rest := max(1, secs-count*vs)
	is := max(1, (rest+1)/2)
	for js := is; js <= rest; js++ {
		if gcd(js, vs) == 1 {
			is = js
			break
		}
	}
	return time.Duration(is) * time.Second
}

// spread decides Spread and checks that the idle chain and the spread fit
// in t.
func (c Config) spread(t time.Duration, s Settings) (time.Duration, error) {
	idleWorst := s.Idle + time.Duration(s.Count)*s.Interval
	spread := c.Spread
	switch spread {
	case NoSpread:
		spread = 0
	case 0:
		spread = min(max(t-idleWorst, 0), s.Idle)
	}
	if idleWorst+spread > t {
		what := fmt.Sprintf("Idle %v + %d×Interval %v", s.Idle, s.Count, s.Interval)
		if spread > 0 {
			what += fmt.Sprintf(" + Spread %v", spread)
		}
		return 0, configErr(fieldOf(c, "Timeout"),
			"%s = %v is more than Timeout %v: an idle connection could go unnoticed longer than promised; lower those or raise Timeout to %v",
			what, idleWorst+spread, t, idleWorst+spread)
	}
	return spread, nil
}

// underMaxIdle holds a derived keepalive idle or interval at MaxIdle.
func (c Config) underMaxIdle(d time.Duration) time.Duration {
	if m := c.maxIdle(); m > 0 {
		return min(d, m)
	}
	return d
}

// maxIdle is the bound on keepalive idle and interval, whole seconds; zero
// when there is none.
func (c Config) maxIdle() time.Duration {
	switch c.MaxIdle {
	case NoMaxIdle:
		return 0
	case 0:
		return DefaultMaxIdle
	}
	return c.MaxIdle.Truncate(time.Second)
}

// chainWithin sizes a keepalive chain to a user timeout u: idle whatever
// count probes interval v apart leave, so that u lands where Validate
// wants it (past the latest moment the count-th probe can leave, at most
// Idle + count·Interval). Where the timer wheel's accumulated lateness
// leaves no room at v, it widens the interval (unless fixed), then takes
// fewer probes (unless fixed); a derived interval never widens past
// maxIdle (zero: no bound). It returns the last candidate when none
// fits, for Validate to explain.
func chainWithin(u, v time.Duration, vFixed bool, maxIdle time.Duration, count int, countFixed bool) (time.Duration, time.Duration, int) {
	var i time.Duration
	for n := count; n >= 1; n-- {
		for step := range 64 {
			w := v + time.Duration(step)*time.Second
			if vFixed && step > 0 || time.Duration(n)*w >= u || maxIdle > 0 && w > maxIdle {
				break
			}
			i = max(time.Second, (u - time.Duration(n)*w + time.Second - 1).Truncate(time.Second))
			s := Settings{KeepAlive: true, Idle: i, Interval: w, Count: n, UserTimeout: u}
			if s.checkConsistent() == nil {
				return i, w, n
			}
		}
		if countFixed {
			break
		}
	}
	return max(time.Second, (u - time.Duration(count)*v + time.Second - 1).Truncate(time.Second)), v, count
}

// fieldOf names the field to blame for a budget overrun: the first override
// set, else Timeout.
func fieldOf(c Config, fallback string) string {
	switch {
	case c.Idle != 0:
		return "Idle"
	case c.Interval != 0:
		return "Interval"
	case c.Count != 0:
		return "Count"
	case c.Spread > 0:
		return "Spread"
	}
	return fallback
}

func (c Config) checkFields() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"Timeout", c.Timeout}, {"Idle", c.Idle}, {"Interval", c.Interval},
		{"UserTimeout", c.UserTimeout}, {"ConnectTimeout", c.ConnectTimeout},
	} {
		if f.d < 0 {
			return configErr(f.name, "%s %v is negative: use a positive duration, or zero to derive it", f.name, f.d)
		}
	}
	if c.MaxIdle < 0 && c.MaxIdle != NoMaxIdle {
		return configErr("MaxIdle", "MaxIdle %v is negative: use a positive duration, zero for DefaultMaxIdle (%v), or NoMaxIdle to turn the bound off", c.MaxIdle, DefaultMaxIdle)
	}
	if c.MaxIdle > 0 && c.MaxIdle < time.Second {
		return configErr("MaxIdle", "MaxIdle %v is shorter than 1 s, the least keepalive idle (whole seconds); use at least 1s", c.MaxIdle)
	}
	if m := c.maxIdle(); m > 0 {
		for _, f := range []struct {
			name string
			d    time.Duration
		}{{"Idle", c.Idle}, {"Interval", c.Interval}} {
			if f.d > m && f.d <= maxKeepaliveSeconds*time.Second { // above the kernel's limit: checkLimits says so
				return configErr(f.name,
					"%s %v is longer than MaxIdle %v: a middlebox that forgets flows idle that long would drop this connection while it is healthy; lower %s, raise MaxIdle, or set MaxIdle to NoMaxIdle if no middlebox is on the path",
					f.name, f.d, m, f.name)
			}
		}
	}
	if c.RTOMax != 0 && c.RTOMax != NoRTOMax && (c.RTOMax < kernel.MinRTOMax || c.RTOMax > kernel.MaxRTO || c.RTOMax%time.Millisecond != 0) {
		return configErr("RTOMax", "RTOMax %v is not a cap TCP_RTO_MAX_MS takes: use whole milliseconds from %v to %v, zero to derive it, or NoRTOMax to leave the kernel's",
			c.RTOMax, kernel.MinRTOMax, kernel.MaxRTO)
	}
	if c.Spread < 0 && c.Spread != NoSpread {
		return configErr("Spread", "Spread %v is negative: use a positive duration, zero to derive it, or NoSpread to turn it off", c.Spread)
	}
	if c.Count < 0 {
		return configErr("Count", "Count %d is negative: use 1 to %d, or zero to derive it", c.Count, maxKeepaliveCount)
	}
	if c.Timeout != 0 && c.Timeout < MinTimeout {
		return configErr("Timeout",
			"Timeout %v is shorter than %v: keepalive idle and interval are whole seconds, and 3 s is the least that tolerates a lost probe; use at least %v",
			c.Timeout, MinTimeout, MinTimeout)
	}
	if c.Timeout > MaxTimeout {
		return configErr("Timeout", "Timeout %v is longer than %v: use at most %v", c.Timeout, MaxTimeout, MaxTimeout)
	}
	for _, f := range []struct {
		name, opt string
		d         time.Duration
	}{{"Idle", "TCP_KEEPIDLE", c.Idle}, {"Interval", "TCP_KEEPINTVL", c.Interval}} {
		if f.d != 0 && (f.d < time.Second || f.d%time.Second != 0) {
			return configErr(f.name, "%s %v is not a whole number of seconds: %s holds whole seconds; use %v or %v",
				f.name, f.d, f.opt, max(time.Second, f.d.Truncate(time.Second)), f.d.Truncate(time.Second)+time.Second)
		}
	}
	if c.UserTimeout%time.Millisecond != 0 {
		return configErr("UserTimeout", "UserTimeout %v is not a whole number of milliseconds: TCP_USER_TIMEOUT holds milliseconds; use %v",
			c.UserTimeout, c.UserTimeout.Round(time.Millisecond))
	}
	return nil
}

// checkLimits rejects values the kernel cannot hold.
func (s Settings) checkLimits() error {
	if s.Idle > maxKeepaliveSeconds*time.Second {
		return configErr("Idle", "Idle %v is above the kernel's limit of %d s for TCP_KEEPIDLE", s.Idle, maxKeepaliveSeconds)
	}
	if s.Interval > maxKeepaliveSeconds*time.Second {
		return configErr("Interval", "Interval %v is above the kernel's limit of %d s for TCP_KEEPINTVL", s.Interval, maxKeepaliveSeconds)
	}
	if s.Count > maxKeepaliveCount {
		return configErr("Count", "Count %d is above the kernel's limit of %d for TCP_KEEPCNT", s.Count, maxKeepaliveCount)
	}
	if s.UserTimeout > maxUserTimeout {
		return configErr("UserTimeout", "UserTimeout %v is above the kernel's limit of %v for TCP_USER_TIMEOUT", s.UserTimeout, maxUserTimeout)
	}
	return nil
}

// checkConsistent rejects a user timeout that silently overrides the
// keepalive count. The kernel ends an idle connection at the first
// keepalive firing at least UserTimeout after the last segment received
// with a probe out; each firing is armed from the previous one and comes
// up to one timer-wheel bucket late, so the lateness adds up. Only a user
// timeout past the latest moment the Count-th probe can leave
// (kernel.SafeUserTimeout, for any HZ) and at most Idle + Count·Interval
// keeps both promises. The firing sequence is simulated in the kernel
// model (kernel.Keepalive.Death), the same one Bounds uses.
func (s Settings) checkConsistent() error {
	i, v, c, u := s.Idle, s.Interval, s.Count, s.UserTimeout
	full := i + time.Duration(c)*v
	if u > full {
		return configErr("UserTimeout",
			"UserTimeout %v is longer than Idle + Count×Interval = %v: the kernel keeps probing until the user timeout and ignores Count %d; set UserTimeout to %v or raise Count",
			u, full, c, full)
	}
	if u < i+v {
		return configErr("UserTimeout",
			"UserTimeout %v is shorter than Idle + Interval = %v: a single lost keepalive probe would kill the connection; set UserTimeout to Idle + Count×Interval = %v",
			u, i+v, full)
	}
	d, err := kernel.Options(s).Keepalive().Death(0)
	if err != nil {
		return configErr("Idle", "%v", err)
	}
	if d.MinProbes >= c {
		return nil
	}
	safe := kernel.SafeUserTimeout(0, i, v, c)
	fix := fmt.Sprintf("set UserTimeout between %v and %v", safe, full)
	if safe > full {
		fix = fmt.Sprintf("no user timeout keeps %d probes at Interval %v: raise Interval or lower Count", c, v)
	}
	late := (kernel.Granularity(0, i) + time.Duration(c-1)*kernel.Granularity(0, v)).Round(time.Millisecond)
	if d.MinProbes <= 1 {
		return configErr("UserTimeout",
			"UserTimeout %v would let a single lost keepalive probe kill the connection: the second firing comes at Idle + Interval = %v plus up to %v of timer lateness, already past it; %s",
			u, i+v, (kernel.Granularity(0, i) + kernel.Granularity(0, v)).Round(time.Millisecond), fix)
	}
	return configErr("UserTimeout",
		"UserTimeout %v can end an idle connection after %d probes, before Count %d went out: each keepalive firing comes up to one timer-wheel bucket late and the lateness adds up (up to %v by the %s probe); %s",
		u, d.MinProbes, c, late, ordinal(c), fix)
}

// checkDerivedChain is checkConsistent for a chain the planner chose
// (lossTolerantChain): Count is the most probes a dead peer gets (the
// user timeout never lets more out, so the idle bound holds), and no
// single lost probe kills; but the timers' lateness may end the chain a
// probe or two before Count, as it adds up over many 1 s intervals. That
// is the exchanges the false-kill model counts (kernel.KeepaliveRisk takes
// the fewest probes), and Bound.LostProbes reports it. The override rule,
// exactly Count probes before the user timeout, would forbid the chains
// that tolerate loss within the same Timeout (8s/1s/15 beside 8s/5s/3):
// it is a means to keep Count honest for a user who set it, not the
// promise.
func (s Settings) checkDerivedChain() error {
	d, err := kernel.Options(s).Keepalive().Death(0)
	if err != nil {
		return configErr("Idle", "%v", err)
	}
	if s.UserTimeout > s.Idle+time.Duration(s.Count)*s.Interval || d.MaxProbes > s.Count || d.MinProbes < min(2, s.Count) {
		return configErr("Timeout", "flatline: the derived keepalive chain %v/%v/%d with UserTimeout %v sends %d to %d probes; please report this", s.Idle, s.Interval, s.Count, s.UserTimeout, d.MinProbes, d.MaxProbes)
	}
	return nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
