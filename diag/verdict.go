package diag

import (
	"fmt"
	"strconv"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// stuckAfter is how many consecutive retransmission timeouts of the same
// data make a socket stuck: one timeout is ordinary loss, two in a row
// without an acknowledgement (≥ 600 ms at the minimum RTO) is a pattern.
const stuckAfter = 2

// traffic tells what a socket is doing, as far as the dead-peer rules go:
// the kernel model's rule over what inet_diag reported.
func traffic(m DiagMsg) flatline.State { return flatline.State(kernel.Traffic(connOf(m))) }

// connOf is what the kernel model reads of an inet_diag message.
func connOf(m DiagMsg) kernel.Conn {
	c := kernel.Conn{State: uint8(m.State), Timer: kernel.Timer(m.Timer)}
	if i := m.Info; i != nil {
		c.Unacked, c.Notsent = i.Unacked, i.NotsentBytes
		c.SndWnd, c.HasSndWnd = i.SndWnd, i.HasSndWnd
		c.Retransmits, c.Probes = uint8(min(i.Retransmits, 255)), uint8(min(i.Probes, 255))
		c.LastDataRecv = time.Duration(i.LastDataRecv) * time.Millisecond
		c.LastAckRecv = time.Duration(i.LastAckRecv) * time.Millisecond
	}
	return c
}

// judge fills s's Traffic, Bound, Worst, Never, Known, Verdict and Reason
// from what the kernel reported (s.DiagMsg), the options (s.Settings, nil
// when unreadable) and the namespace's host settings, against max. It is
// pure; the arithmetic is the kernel model's (through Settings.Bounds):
// this only decides which rule applies now and how much of it has already
// passed. Worst includes the rule's timer slack, so the kernel does not
// report the peer dead later than it.
func judge(s *Socket, h flatline.Host, maxWait time.Duration) { judgeCached(s, h, maxWait, nil) }

// boundsCache remembers Settings.Bounds per distinct settings within one
// scan, and the idle reason's note on sending, which hangs on them alone:
// most sockets of a host share a handful of settings. Not safe for
// concurrent use; one per goroutine, and one Options.Max per cache.
type boundsCache map[flatline.Settings]*cachedBounds

type cachedBounds struct {
	bounds   flatline.Bounds
	sendNote string
	noted    bool
	// reasons holds each distinct reason once: sockets of one settings
	// mostly share theirs (the numbers in them are rounded), so 20,000
	// sockets hold a few dozen strings, not 20,000 (2 MB). buf is where a
	// reason is put together to be looked up.
	reasons map[string]string
	buf     []byte
}

// maxReasons bounds how many distinct reasons a cache entry keeps; past
// it, reasons are made one a socket.
const maxReasons = 1024

// reason returns the reason made of parts, shared with every socket
// whose reason is the same.
func (c *cachedBounds) reason(parts ...string) string {
	c.buf = c.buf[:0]
	for _, p := range parts {
		c.buf = append(c.buf, p...)
	}
	if r, ok := c.reasons[string(c.buf)]; ok {
		return r
	}
	r := string(c.buf)
	if c.reasons == nil {
		c.reasons = make(map[string]string)
	}
	if len(c.reasons) < maxReasons {
		c.reasons[r] = r
	}
	return r
}

func (c boundsCache) get(s flatline.Settings, h flatline.Host) *cachedBounds {
	if c == nil {
		return &cachedBounds{bounds: s.Bounds(h)}
	}
	b, ok := c[s]
	if !ok {
		b = &cachedBounds{bounds: s.Bounds(h)}
		c[s] = b
	}
	return b
}

// sendingNote is what an idle socket's reason adds about sending data:
// "" when its sending bound is within maxWait.
func (c *cachedBounds) sendingNote(maxWait time.Duration) string {
	if !c.noted {
		if b := c.bounds.Of(flatline.StateSending); b.Never || b.Worst > maxWait {
			c.sendNote = "; unacknowledged data would take " + b.String()
		}
		c.noted = true
	}
	return c.sendNote
}

// judgeCached is judge with a bounds cache (nil: none).
func judgeCached(s *Socket, h flatline.Host, maxWait time.Duration, cache boundsCache) {
	m := s.DiagMsg
	s.Traffic = traffic(m)
	s.Known, s.Never, s.Worst, s.LostProbes = false, false, 0, -1
	s.LossSeen, s.FalseKillsPerHour, s.RiskKnown = 0, 0, false

	switch m.State {
	case StateListen:
		s.Known, s.Verdict = true, VerdictOK
		s.Reason = "listening: no peer to lose"
		return
	case StateTimeWait:
		s.Known, s.Verdict = true, VerdictOK
		s.Worst = time.Duration(m.Expires) * time.Millisecond
		s.Reason = "TIME-WAIT: no peer to wait for; the kernel drops it when its timer fires"
		return
	}
	if s.Settings == nil {
		judgeUnreadable(s, h)
		return
	}
	set := *s.Settings
	cached := cache.get(set, h)
	bounds := cached.bounds
	s.Bound = bounds.Of(s.Traffic)
	if s.Bound.Never {
		s.Known, s.Never = true, true
		s.Verdict = VerdictNever
		s.Reason = cached.reason(string(s.Traffic), ": ", s.Bound.Rule)
		return
	}

	var why string
	switch s.Traffic {
	case flatline.StateSending:
		s.Worst, why = sendingLeft(m, h, set.UserTimeout)
	case flatline.StateIdle:
		s.Worst, why = keepaliveLeft(m, set, s.Bound)
	case flatline.StateConnecting:
		s.Worst, why = connectingLeft(s, h, set)
	default: // closed window: the nominal bound, an upper bound from now
		s.Worst, why = s.Bound.Worst, "at most the full bound from now"
	}
	// A bound the kernel does not exceed: what is left of the rule, plus
	// the timer slack the plan states for it.
	s.Worst += s.Bound.Slack
	s.Known = true
	idle := bounds.Of(flatline.StateIdle)
	if set.KeepAlive && !idle.Never {
		s.LostProbes = idle.LostProbes
	}
	switch {
	case isStuck(s):
		s.Verdict = VerdictStuck
		s.Reason = fmt.Sprintf("%d retransmission timeouts unanswered (%s); gives up in %v: %s",
			m.Info.Retransmits, why, roundOut(s.Worst), s.Bound.Rule)
		return
	case s.Worst > maxWait:
		s.Verdict = VerdictSlow
	case s.LostProbes == 0:
		s.Verdict = VerdictFragile
	default:
		s.Verdict = VerdictOK
	}
	// Concatenated, not fmt.Sprintf: a reason per socket, 20,000 a scan.
	fragile, sending := "", ""
	if s.LostProbes == 0 {
		fragile = "; a single lost keepalive probe kills it"
	}
	if s.Traffic == flatline.StateIdle {
		// The verdict is about now; say what sending data would change.
		sending = cached.sendingNote(maxWait)
	}
	s.Reason = cached.reason(string(s.Traffic), ": ", s.Bound.Rule, " (", why, ")", fragile, sending)
	judgeRisk(s, h)
}

// judgeUnreadable decides what inet_diag alone can tell when the options
// could not be read: an idle established socket with no timer pending has
// keepalive off (the keepalive timer is pending whenever it is on), and
// repeated retransmission timeouts are visible; the rest is unknown.
func judgeUnreadable(s *Socket, h flatline.Host) {
	m := s.DiagMsg
	why := "options unreadable"
	if s.OptionsErr != nil {
		why += ": " + s.OptionsErr.Error()
	}
	switch {
	case s.Traffic == flatline.StateIdle && m.State == StateEstablished && m.Timer == TimerOff:
		s.Known, s.Never = true, true
		s.Verdict = VerdictNever
		s.Reason = "idle with no timer pending: keepalive is off (" + why + ")"
	case isStuck(s):
		s.Verdict = VerdictStuck
		s.Reason = fmt.Sprintf("%d retransmission timeouts unanswered; the kernel gives up %v after the first send without TCP_USER_TIMEOUT, sooner with one (%s)",
			m.Info.Retransmits, roundOut(kernel.RetransmitGiveUp(h.Retries2, 0, 0)), why)
	default:
		s.Verdict = VerdictUnknown
		s.Reason = why
	}
}

func isStuck(s *Socket) bool {
	return s.Traffic == flatline.StateSending && s.Info != nil && s.Info.Retransmits >= stuckAfter
}

// sendingLeft is how long from now until data in flight is given up on:
// the kernel model's RetransmitLeft over what tcp_info says (tcpi_rto,
// tcpi_backoff) and the pending timer's expiry.
func sendingLeft(m DiagMsg, h flatline.Host, userTimeout time.Duration) (time.Duration, string) {
	r := kernel.Retransmitting{Expires: time.Duration(m.Expires) * time.Millisecond}
	if m.Info == nil {
		left, _, _ := kernel.RetransmitLeft(h.Retries2, userTimeout, r)
		return left, "no tcp_info: the full count after the next timeouts"
	}
	r.RTO = time.Duration(m.Info.RTO) * time.Microsecond
	r.Backoff = int(m.Info.Backoff)
	left, total, counted := kernel.RetransmitLeft(h.Retries2, userTimeout, r)
	if r.Backoff == 0 {
		return left, fmt.Sprintf("rto %v, no timeout yet: the count of %v starts within %v", roundOut(r.RTO), roundOut(total), roundOut(left-total))
	}
	return left, fmt.Sprintf("rto %v, backoff %d: ≈%v of %v counted since the first timeout", roundOut(r.RTO), r.Backoff, roundOut(counted), roundOut(total))
}

// keepaliveLeft is how long from now until an idle socket is declared
// dead: the kernel model's Keepalive.Left from the socket's keepalive
// clock (the last segment received), its probes out and its pending
// timer. With no keepalive timer pending (another timer runs), at most
// the bound from the last segment received.
func keepaliveLeft(m DiagMsg, s flatline.Settings, b flatline.Bound) (time.Duration, string) {
	if m.Info == nil {
		return b.Worst, "no tcp_info: the full bound"
	}
	quiet := kernel.Quiet(connOf(m))
	if m.Timer != TimerKeepalive {
		return max(b.Worst-quiet, 0), "silent " + roundOut(quiet).String() + ", no keepalive timer pending"
	}
	expires := time.Duration(m.Expires) * time.Millisecond
	left := kernel.Options(s).Keepalive().Left(quiet, expires, int(m.Info.Probes))
	if m.Info.Probes == 0 {
		return left, "silent " + roundOut(quiet).String() + ", first probe in " + roundOut(max(expires, s.Idle-quiet)).String()
	}
	return left, strconv.Itoa(m.Info.Probes) + " probes unanswered, next firing in " + roundOut(expires).String()
}

// connectingLeft is how long from now until a connect gives up: without a
// user timeout, the kernel model's SYN schedule less the timeouts already
// taken, as the retransmission count says; with one, the whole bound.
func connectingLeft(s *Socket, h flatline.Host, set flatline.Settings) (time.Duration, string) {
	k := s.Retransmits()
	if set.UserTimeout > 0 || k == 0 {
		return s.Bound.Worst, "at most the full bound from now"
	}
	retries := set.SynCount
	if retries == 0 {
		retries = h.SynRetries
	}
	elapsed := kernel.SynElapsed(retries, h.SynLinearTimeouts, k)
	left := max(s.Bound.Worst-elapsed, time.Duration(s.Expires)*time.Millisecond)
	return left, fmt.Sprintf("%d SYNs retransmitted: ≈%v already passed", k, roundOut(elapsed))
}

func roundOut(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
