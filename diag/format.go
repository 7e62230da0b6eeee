package diag

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
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

// MarshalJSON writes the socket with the stable field names of issue 4:
// pid, fd, comm null without an owner; keepalive and user_timeout_ms null
// when the options are unreadable; worst_case_s (timer slack included)
// null when the peer is never noticed or it cannot be told (verdict says
// which); lost_probes null when keepalive is off or unreadable.
func (s Socket) MarshalJSON() ([]byte, error) {
	j := jsonSocket{
		Local:          s.Local.String(),
		Remote:         s.Remote.String(),
		State:          s.State.String(),
		Timer:          s.Timer.String(),
		TimerExpiresMS: int64(s.Expires),
		Retransmits:    s.Retransmits(),
		Probes:         s.Probes(),
		Unacked:        s.Unacked(),
		Verdict:        s.Verdict,
		Reason:         s.Reason,
	}
	if o, ok := s.Owner(); ok {
		j.PID, j.FD, j.Comm = &o.PID, &o.FD, &o.Comm
	}
	if st := s.Settings; st != nil {
		j.Keepalive = &jsonKeepalive{
			Enabled:   st.KeepAlive,
			IdleS:     int(st.Idle / time.Second),
			IntervalS: int(st.Interval / time.Second),
			Count:     st.Count,
		}
		ut := st.UserTimeout.Milliseconds()
		j.UserTimeoutMS = &ut
	}
	if s.Known && !s.Never {
		w := s.Worst.Seconds()
		j.WorstCaseS = &w
	}
	if s.LostProbes >= 0 {
		lp := s.LostProbes
		j.LostProbes = &lp
	}
	return json.Marshal(j)
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
	if j.Sockets == nil {
		j.Sockets = []Socket{}
	}
	return json.Marshal(j)
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
