package diag

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
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
	TimerExpiresS  float64        `json:"timer_expires_s"`
	Retransmits    int            `json:"retransmits"`
	Probes         int            `json:"probes"`
	Unacked        uint32         `json:"unacked"`
	Keepalive      *jsonKeepalive `json:"keepalive"`
	UserTimeoutS   *float64       `json:"user_timeout_s"`
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
// pid, fd, comm null without an owner; keepalive and user_timeout_s null
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
	b = append(b, `,"timer_expires_s":`...)
	b = appendJSONFloat(b, expiresSeconds(s.Expires))
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
		b = append(b, `},"user_timeout_s":`...)
		b = appendJSONFloat(b, st.UserTimeout.Seconds())
	} else {
		b = append(b, `,"keepalive":null,"user_timeout_s":null`...)
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
	if plainJSON(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
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

// plainJSON says whether s is printable ASCII that encoding/json writes
// as it is (no quote, backslash, <, > or &): most of a report's strings.
func plainJSON[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendJSONFloat appends f as encoding/json writes a float64.
// expiresSeconds is idiag_expires (ms) in seconds, JSON's unit.
func expiresSeconds(ms uint32) float64 { return float64(ms) / 1000 }

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
	MaxS      float64     `json:"timeout_s"`
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
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteJSON writes what MarshalJSON returns to w, a socket at a time
// through a buffer: a 20,000-socket report is never in memory whole.
func (r *Report) WriteJSON(w io.Writer) error {
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
	head, err := json.Marshal(j)
	if err != nil {
		return err
	}
	const null = `null}`
	if !bytes.HasSuffix(head, []byte(`"sockets":`+null)) {
		return errors.New("diag: the report's JSON does not end with its sockets")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head[:len(head)-len(null)])
	bw.WriteByte('[')
	var b []byte
	first := true
	if err := r.each(func(s *Socket) error {
		b = b[:0]
		if !first {
			b = append(b, ',')
		}
		first = false
		b = s.appendJSON(b)
		_, err := bw.Write(b)
		return err
	}); err != nil {
		return err
	}
	bw.WriteString("]}")
	return bw.Flush()
}

// textColumns are the table's columns; the last (REASON) is not padded.
var textColumns = [...]string{"VERDICT", "WORST", "PROCESS", "STATE", "LOCAL", "REMOTE", "TIMER", "RETR", "PROBES", "UNACKED", "KEEPALIVE", "USER_TIMEOUT", "LOST_OK", "REASON"}

// textRow is one line of the table: its cells, end to end in b.
type textRow struct {
	b   []byte
	end [len(textColumns)]int
}

func (t *textRow) cell(i int) []byte {
	start := 0
	if i > 0 {
		start = t.end[i-1]
	}
	return t.b[start:t.end[i]]
}

// header fills t with the column names.
func (t *textRow) header() {
	t.b = t.b[:0]
	for i, c := range textColumns {
		t.b = append(t.b, c...)
		t.end[i] = len(t.b)
	}
}

// socket fills t with one socket's cells.
func (t *textRow) socket(s *Socket) {
	b := t.b[:0]
	next := func(i int) { t.end[i] = len(b) }
	b = append(b, s.Verdict...)
	next(0)
	b = append(b, s.worstString()...)
	next(1)
	if o, ok := s.Owner(); ok {
		b = strconv.AppendInt(b, int64(o.PID), 10)
		b = append(b, '/')
		b = appendPrintable(b, o.Comm)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(o.FD), 10)
	} else {
		b = append(b, '-')
	}
	next(2)
	b = append(b, s.State.String()...)
	next(3)
	b = s.Local.AppendTo(b)
	next(4)
	b = s.Remote.AppendTo(b)
	next(5)
	b = append(b, s.Timer.String()...)
	if s.Timer != TimerOff {
		b = append(b, ',')
		b = append(b, (time.Duration(s.Expires) * time.Millisecond).String()...)
	}
	next(6)
	b = strconv.AppendInt(b, int64(s.Retransmits()), 10)
	next(7)
	b = strconv.AppendInt(b, int64(s.Probes()), 10)
	next(8)
	b = strconv.AppendUint(b, uint64(s.Unacked()), 10)
	next(9)
	switch st := s.Settings; {
	case st == nil:
		b = append(b, '?')
		next(10)
		b = append(b, '?')
	default:
		if st.KeepAlive {
			b = append(b, st.Idle.String()...)
			b = append(b, '/')
			b = append(b, st.Interval.String()...)
			b = append(b, '/')
			b = strconv.AppendInt(b, int64(st.Count), 10)
		} else {
			b = append(b, "off"...)
		}
		next(10)
		if st.UserTimeout > 0 {
			b = append(b, st.UserTimeout.String()...)
		} else {
			b = append(b, "none"...)
		}
	}
	next(11)
	if s.LostProbes >= 0 {
		b = strconv.AppendInt(b, int64(s.LostProbes), 10)
	} else {
		b = append(b, '-')
	}
	next(12)
	b = append(b, s.Reason...)
	next(13)
	t.b = b
}

// appendPrintable appends s with control characters (a tab or newline in
// a process's name would break the table's lines) as '?'.
func appendPrintable(b []byte, s string) []byte {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

// WriteText writes the report for people: the namespace's sysctls, one
// line per socket worst first and grouped by process, and the summary.
// The columns are aligned as text/tabwriter would align them (two spaces
// after the widest cell), in two passes over the sockets instead of a
// copy of every cell.
func (r *Report) WriteText(w io.Writer) error {
	h := r.Host
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "namespace %s: tcp_retries2=%d keepalive %v/%v/%d tcp_syn_retries=%d", r.Namespace,
		h.Retries2, h.KeepaliveTime, h.KeepaliveIntvl, h.KeepaliveProbes, h.SynRetries)
	if h.HZ > 0 {
		fmt.Fprintf(bw, " HZ=%d", h.HZ)
	}
	fmt.Fprintf(bw, "; verdicts against %v\n\n", r.Max)

	var widths [len(textColumns) - 1]int
	var row textRow
	measure := func() {
		for i := range widths {
			widths[i] = max(widths[i], utf8.RuneCount(row.cell(i)))
		}
	}
	row.header()
	measure()
	r.each(func(s *Socket) error {
		row.socket(s)
		measure()
		return nil
	})
	var line []byte
	write := func() error {
		line = line[:0]
		for i := range widths {
			c := row.cell(i)
			line = append(line, c...)
			for pad := widths[i] + 2 - utf8.RuneCount(c); pad > 0; pad-- {
				line = append(line, ' ')
			}
		}
		line = append(line, row.cell(len(widths))...)
		line = append(line, '\n')
		_, err := bw.Write(line)
		return err
	}
	row.header()
	if err := write(); err != nil {
		return err
	}
	if err := r.each(func(s *Socket) error {
		row.socket(s)
		return write()
	}); err != nil {
		return err
	}

	fmt.Fprintf(bw, "\n%d sockets:", r.Summary.Total)
	var b strings.Builder
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
	bw.WriteString(strings.TrimSuffix(b.String(), ",") + "\n")
	for _, n := range r.Notes {
		bw.WriteString("note: " + n + "\n")
	}
	return bw.Flush()
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
