package diag

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// jsonSocket is the stable JSON form of a Socket (issue 4's field names).
type jsonSocket struct {
	Local          string         `json:"local"`
	Remote         string         `json:"remote"`
	State          string         `json:"state"`
	PID            *int           `json:"pid"`
	FD             *int           `json:"fd"`
	Comm           *string        `json:"comm"`
	Timer          string         `json:"timer"`
	TimerExpiresMS int64          `json:"timer_expires_ms"`
	Retransmits    int            `json:"retransmits"`
	Probes         int            `json:"probes"`
	Unacked        uint32         `json:"unacked"`
	Keepalive      *jsonKeepalive `json:"keepalive"`
	UserTimeoutMS  *int64         `json:"user_timeout_ms"`
	WorstCaseS     *float64       `json:"worst_case_s"`
	LostProbes     *int           `json:"lost_probes"`
	LossSeen       *float64       `json:"loss_seen"`
	FalseKillsHour *float64       `json:"false_kills_per_hour"`
	Verdict        Verdict        `json:"verdict"`
	Reason         string         `json:"reason"`
}

type jsonKeepalive struct {
	Enabled   bool `json:"enabled"`
	IdleS     int  `json:"idle_s"`
	IntervalS int  `json:"interval_s"`
	Count     int  `json:"count"`
}

// Retransmits is tcpi_retransmits (what ss shows as "retrans:N/…"), or
// inet_diag's count when the kernel sent no tcp_info.
func (s *Socket) Retransmits() int {
	if s.Info != nil {
		return s.Info.Retransmits
	}
	if s.Timer == TimerOn {
		return s.Retrans
	}
	return 0
}

// Probes is tcpi_probes, or inet_diag's count for a keepalive or persist
// timer when the kernel sent no tcp_info.
func (s *Socket) Probes() int {
	if s.Info != nil {
		return s.Info.Probes
	}
	if s.Timer == TimerKeepalive || s.Timer == TimerPersist {
		return s.Retrans
	}
	return 0
}

// Unacked is tcpi_unacked, zero without tcp_info.
func (s *Socket) Unacked() uint32 {
	if s.Info != nil {
		return s.Info.Unacked
	}
	return 0
}

// MarshalJSON writes the socket with the stable field names of issue 4
// (jsonSocket is the schema):
// pid, fd, comm null without an owner; keepalive and user_timeout_ms null
// when the options are unreadable; worst_case_s (timer slack included)
// null when the peer is never noticed or it cannot be told (verdict says
// which); lost_probes null when keepalive is off or unreadable;
// loss_seen (a fraction) and false_kills_per_hour null unless RiskKnown.
func (s Socket) MarshalJSON() ([]byte, error) { return s.appendJSON(nil), nil }

// appendJSON appends the socket's JSON to b, field by field in jsonSocket's
// order, without reflection: a report of 20,000 sockets spends most of its
// JSON time in encoding/json otherwise. TestSocketJSONMatchesSchema holds
// it to what encoding/json makes of jsonSocket.
func (s *Socket) appendJSON(b []byte) []byte {
	b = append(b, `{"local":`...)
	b = appendAddrPort(b, s.Local)
	b = append(b, `,"remote":`...)
	b = appendAddrPort(b, s.Remote)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, s.State.String())
	if o, ok := s.Owner(); ok {
		b = append(b, `,"pid":`...)
		b = strconv.AppendInt(b, int64(o.PID), 10)
		b = append(b, `,"fd":`...)
		b = strconv.AppendInt(b, int64(o.FD), 10)
		b = append(b, `,"comm":`...)
		b = appendJSONString(b, o.Comm)
	} else {
		b = append(b, `,"pid":null,"fd":null,"comm":null`...)
	}
	b = append(b, `,"timer":`...)
	b = appendJSONString(b, s.Timer.String())
	b = append(b, `,"timer_expires_ms":`...)
	b = strconv.AppendInt(b, int64(s.Expires), 10)
	b = append(b, `,"retransmits":`...)
	b = strconv.AppendInt(b, int64(s.Retransmits()), 10)
	b = append(b, `,"probes":`...)
	b = strconv.AppendInt(b, int64(s.Probes()), 10)
	b = append(b, `,"unacked":`...)
	b = strconv.AppendUint(b, uint64(s.Unacked()), 10)
	if st := s.Settings; st != nil {
		b = append(b, `,"keepalive":{"enabled":`...)
		b = strconv.AppendBool(b, st.KeepAlive)
		b = append(b, `,"idle_s":`...)
		b = strconv.AppendInt(b, int64(st.Idle/time.Second), 10)
		b = append(b, `,"interval_s":`...)
		b = strconv.AppendInt(b, int64(st.Interval/time.Second), 10)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(st.Count), 10)
		b = append(b, `},"user_timeout_ms":`...)
		b = strconv.AppendInt(b, st.UserTimeout.Milliseconds(), 10)
	} else {
		b = append(b, `,"keepalive":null,"user_timeout_ms":null`...)
	}
	b = append(b, `,"worst_case_s":`...)
	if s.Known && !s.Never {
		b = appendJSONFloat(b, s.Worst.Seconds())
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"lost_probes":`...)
	if s.LostProbes >= 0 {
		b = strconv.AppendInt(b, int64(s.LostProbes), 10)
	} else {
		b = append(b, "null"...)
	}
	if s.RiskKnown {
		b = append(b, `,"loss_seen":`...)
		b = appendJSONFloat(b, s.LossSeen)
		b = append(b, `,"false_kills_per_hour":`...)
		b = appendJSONFloat(b, s.FalseKillsPerHour)
	} else {
		b = append(b, `,"loss_seen":null,"false_kills_per_hour":null`...)
	}
	b = append(b, `,"verdict":`...)
	b = appendJSONString(b, string(s.Verdict))
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, s.Reason)
	return append(b, '}')
}

// appendAddrPort appends ap's String as a JSON string without allocating.
func appendAddrPort(b []byte, ap netip.AddrPort) []byte {
	if !ap.IsValid() {
		return appendJSONString(b, ap.String())
	}
	var buf [64]byte
	return appendJSONString(b, ap.AppendTo(buf[:0]))
}

// appendJSONString appends s as a JSON string as encoding/json writes it:
// quotes, backslashes and control characters escaped, <, > and &
// HTML-escaped, U+2028 and U+2029 escaped, invalid UTF-8 replaced by
// U+FFFD.
func appendJSONString[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json writes a float64.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

type jsonHost struct {
	Retries2          int `json:"tcp_retries2"`
	SynRetries        int `json:"tcp_syn_retries"`
	KeepaliveTimeS    int `json:"tcp_keepalive_time"`
	KeepaliveIntvlS   int `json:"tcp_keepalive_intvl"`
	KeepaliveProbes   int `json:"tcp_keepalive_probes"`
	SynLinearTimeouts int `json:"tcp_syn_linear_timeouts"`
	HZ                int `json:"hz"`
}

type jsonReport struct {
	Time      time.Time   `json:"time"`
	Namespace string      `json:"namespace"`
	PID       int         `json:"pid,omitempty"`
	MaxS      float64     `json:"max_s"`
	Host      jsonHost    `json:"host"`
	HostError *string     `json:"host_error"`
	Summary   jsonSummary `json:"summary"`
	Notes     []string    `json:"notes"`
	Sockets   []Socket    `json:"sockets"`
}

type jsonSummary struct {
	Total     int             `json:"total"`
	ByVerdict map[Verdict]int `json:"by_verdict"`
	Hang      []jsonHang      `json:"hang"`
}

type jsonHang struct {
	Label string `json:"label"`
	Count int    `json:"count"`
}

// MarshalJSON writes the report: the scan's context (namespace, max, host
// sysctls, summary, notes) and the sockets, worst first.
func (r *Report) MarshalJSON() ([]byte, error) {
	j := jsonReport{
		Time:      r.Time,
		Namespace: r.Namespace,
		PID:       r.PID,
		MaxS:      r.Max.Seconds(),
		Host: jsonHost{
			Retries2:          r.Host.Retries2,
			SynRetries:        r.Host.SynRetries,
			KeepaliveTimeS:    int(r.Host.KeepaliveTime / time.Second),
			KeepaliveIntvlS:   int(r.Host.KeepaliveIntvl / time.Second),
			KeepaliveProbes:   r.Host.KeepaliveProbes,
			SynLinearTimeouts: r.Host.SynLinearTimeouts,
			HZ:                r.Host.HZ,
		},
		Summary: jsonSummary{Total: r.Summary.Total, ByVerdict: r.Summary.ByVerdict},
		Notes:   r.Notes,
		Sockets: r.Sockets,
	}
	if r.HostErr != nil {
		e := r.HostErr.Error()
		j.HostError = &e
	}
	for _, h := range r.Summary.Hang {
		j.Summary.Hang = append(j.Summary.Hang, jsonHang(h))
	}
	if j.Notes == nil {
		j.Notes = []string{}
	}
	// The sockets are appended as each marshals itself: inside
	// json.Marshal every one's output would be validated and compacted
	// again, half the time of a 20,000-socket report.
	j.Sockets = nil
	head, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	const null = `null}`
	if !bytes.HasSuffix(head, []byte(`"sockets":`+null)) {
		return nil, errors.New("diag: the report's JSON does not end with its sockets")
	}
	b := append(head[:len(head)-len(null)], '[')
	for i := range r.Sockets {
		if i > 0 {
			b = append(b, ',')
		}
		b = r.Sockets[i].appendJSON(b)
	}
	return append(b, "]}"...), nil
}

// WriteText writes the report for people: the namespace's sysctls, one
// line per socket worst first and grouped by process, and the summary.
func (r *Report) WriteText(w io.Writer) error {
	h := r.Host
	var b strings.Builder
	fmt.Fprintf(&b, "namespace %s: tcp_retries2=%d keepalive %v/%v/%d tcp_syn_retries=%d", r.Namespace,
		h.Retries2, h.KeepaliveTime, h.KeepaliveIntvl, h.KeepaliveProbes, h.SynRetries)
	if h.HZ > 0 {
		fmt.Fprintf(&b, " HZ=%d", h.HZ)
	}
	fmt.Fprintf(&b, "; verdicts against %v\n\n", r.Max)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERDICT\tWORST\tPROCESS\tSTATE\tLOCAL\tREMOTE\tTIMER\tRETR\tPROBES\tUNACKED\tKEEPALIVE\tUSER_TIMEOUT\tLOST_OK\tREASON")
	for i := range r.Sockets {
		s := &r.Sockets[i]
		proc := "-"
		if o, ok := s.Owner(); ok {
			proc = fmt.Sprintf("%d/%s:%d", o.PID, o.Comm, o.FD)
		}
		ka, ut := "?", "?"
		if st := s.Settings; st != nil {
			ka = "off"
			if st.KeepAlive {
				ka = fmt.Sprintf("%v/%v/%d", st.Idle, st.Interval, st.Count)
			}
			ut = "none"
			if st.UserTimeout > 0 {
				ut = st.UserTimeout.String()
			}
		}
		timer := s.Timer.String()
		if s.Timer != TimerOff {
			timer += "," + (time.Duration(s.Expires) * time.Millisecond).String()
		}
		lost := "-"
		if s.LostProbes >= 0 {
			lost = fmt.Sprint(s.LostProbes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n",
			s.Verdict, s.worstString(), proc, s.State, s.Local, s.Remote, timer,
			s.Retransmits(), s.Probes(), s.Unacked(), ka, ut, lost, s.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.Reset()
	fmt.Fprintf(&b, "\n%d sockets:", r.Summary.Total)
	for _, v := range Verdicts() {
		if n := r.Summary.ByVerdict[v]; n > 0 {
			fmt.Fprintf(&b, " %d %s,", n, v)
		}
	}
	b.WriteString(" would hang")
	for _, hc := range r.Summary.Hang {
		if hc.Count > 0 {
			fmt.Fprintf(&b, " %s: %d,", hc.Label, hc.Count)
		}
	}
	out := strings.TrimSuffix(b.String(), ",") + "\n"
	for _, n := range r.Notes {
		out += "note: " + n + "\n"
	}
	_, err := io.WriteString(w, out)
	return err
}

func (s *Socket) worstString() string {
	switch {
	case !s.Known:
		return "?"
	case s.Never:
		return "never"
	}
	return roundOut(s.Worst).String()
}
