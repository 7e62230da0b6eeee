package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline/internal/topology"
)

// faultLegend says in a few words what fault f does, for the table.
func faultLegend(f Fault) string {
	switch f {
	case Blackhole:
		return "every packet dropped both ways: the original story's partition"
	case LinkDown:
		return "the router's link to the server is down: ICMP unreachable comes back"
	case OneWayOut:
		return "client -> server dropped"
	case OneWayIn:
		return "server -> client dropped"
	case PeerFrozen:
		return "server process stopped (SIGSTOP): its kernel still answers"
	case PeerReboot:
		return "partition, server killed, path back: its kernel answers with RST"
	case Reset:
		return "the server aborts the connection: an RST arrives"
	case Blip:
		return "partition shorter than one probe interval, then back: nothing should die"
	case Latency50, Latency300:
		s, _ := shapeOf(f)
		return fmt.Sprintf("round trip %v ± %v (netem), then every packet dropped", 2*s.Delay, 2*s.Jitter)
	case Loss1, Loss5:
		l, _ := randomLossOf(f)
		return fmt.Sprintf("%v of packets dropped each way at random (nftables numgen): nothing should die, except where the false-kill model gives the settings 1 %% or more in the cell (at-risk)", l)
	case Rate:
		return "the path carries 256 kbit/s each way (netem): nothing should die"
	case MTUBlackhole:
		return fmt.Sprintf("packets above %d bytes dropped: keepalive passes, data does not", topology.MTULimit)
	case MiddleboxExpiry:
		return fmt.Sprintf("a middlebox forgets flows idle for %v; a request after %v idle must get through", MiddleboxTimeout, middleboxSoak)
	case PeerPaused:
		return "server process stopped for less than the heartbeat's pause budget, then continued: nothing should die"
	}
	return ""
}

// WriteJSON writes r as indented JSON: the stable schema for programs.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// fmtSeconds formats a measured time for the table: 3 significant figures
// below a minute.
func fmtSeconds(s float64) string {
	switch {
	case s < 0.01:
		return fmt.Sprintf("%.0fms", s*1000)
	case s < 10:
		return fmt.Sprintf("%.2fs", s)
	case s < 120:
		return fmt.Sprintf("%.1fs", s)
	default:
		return (time.Duration(s) * time.Second).Round(time.Second).String()
	}
}

// cellText is one cell of the table: what the application saw, marked
// against T and against the configuration's own promise.
func cellText(c CellResult, t float64) string {
	switch c.Verdict {
	case Survived:
		return "survived ok"
	case FalseKill:
		return "KILLED " + fmtSeconds(*c.DetectedS)
	case AtRisk:
		return fmt.Sprintf("killed %s (risk %.0f%%)", fmtSeconds(*c.DetectedS), 100**c.FalseKillChance)
	case Lost:
		return "LOST"
	case Skipped:
		return "skipped"
	case Never:
		return "never"
	case Late:
		return fmtSeconds(*c.DetectedS) + " LATE"
	case InTime:
		s := fmtSeconds(*c.DetectedS)
		if *c.DetectedS <= t*1.1 {
			return s + " ok"
		}
		return s
	}
	return string(c.Verdict)
}

// WriteTable writes r for people: one block per fault, a row per workload,
// a column per configuration, then a summary of what failed its promise.
func WriteTable(w io.Writer, r *Result) error {
	t := r.TimeoutS
	byCell := map[Cell]CellResult{}
	configs := []ConfigName{}
	seenConfig := map[ConfigName]bool{}
	for _, c := range r.Cells {
		byCell[c.Cell()] = c
		seenConfig[c.Config] = true
	}
	for _, c := range Configs() {
		if seenConfig[c] {
			configs = append(configs, c)
		}
	}
	capS := 0.0
	if len(r.Cells) > 0 {
		capS = r.Cells[0].CapS
	}

	fmt.Fprintf(w, "flatline lab: T = %s, kernel %s, %d cells, each watched for up to %s after its fault.\n",
		fmtSeconds(t), r.Kernel, len(r.Cells), fmtSeconds(capS))
	fmt.Fprintf(w, "Time from the fault to the first error the application sees (\"ok\": within T; \"never\": nothing within %s).\n\n", fmtSeconds(capS))

	writeLesson(w, r, byCell, configs)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := []string{""}
	settings := []string{""}
	for _, c := range configs {
		header = append(header, string(c))
		settings = append(settings, configSummary(c, time.Duration(t*float64(time.Second))))
	}
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	fmt.Fprintln(tw, strings.Join(settings, "\t")+"\t")
	var faults []Fault
	for _, f := range MatrixFaults() {
		var rows []string
		for _, wl := range Workloads() {
			row := []string{"  " + string(wl)}
			any := false
			for _, c := range configs {
				cr, ok := byCell[Cell{Workload: wl, Fault: f, Config: c}]
				if !ok {
					row = append(row, "")
					continue
				}
				any = true
				row = append(row, cellText(cr, t))
			}
			if any {
				rows = append(rows, strings.Join(row, "\t")+"\t")
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintln(tw, string(f)+strings.Repeat("\t", len(configs)+1))
		faults = append(faults, f)
		for _, row := range rows {
			fmt.Fprintln(tw, row)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nFaults, each applied at a known instant (the router's drop rules and link, or the server process):")
	for _, f := range faults {
		fmt.Fprintf(w, "  %-16s %s\n", f, faultLegend(f))
	}
	fmt.Fprintln(w)
	return writeSummary(w, r, capS)
}

// lessonRow is one line of the headline.
type lessonRow struct {
	label string
	cell  Cell
	note  string
}

// lessonRows are the headline: the original story in three lines.
func lessonRows() []lessonRow {
	return []lessonRow{
		{"idle connection, network gone", Cell{Workload: Idle, Fault: Blackhole}, ""},
		{"busy connection, network gone", Cell{Workload: Sending, Fault: Blackhole}, "keepalive waits while data is in flight"},
		{"peer process frozen", Cell{Workload: Idle, Fault: PeerFrozen}, "its kernel answers every probe"},
		{"peer paused, then back", Cell{Workload: Idle, Fault: PeerPaused}, "shorter than the pause budget: must live"},
	}
}

// writeLesson writes the headline table, when the run has its cells.
func writeLesson(w io.Writer, r *Result, byCell map[Cell]CellResult, configs []ConfigName) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	lines := 0
	fmt.Fprintln(tw, "The lesson at a glance\t"+joinConfigs(configs)+"\t")
	for _, row := range lessonRows() {
		line := "  " + row.label
		found := false
		for _, c := range configs {
			cell := row.cell
			cell.Config = c
			cr, ok := byCell[cell]
			if ok {
				found = true
				line += "\t" + cellText(cr, r.TimeoutS)
			} else {
				line += "\t"
			}
		}
		if found {
			fmt.Fprintln(tw, line+"\t"+row.note)
			lines++
		}
	}
	if lines == 0 {
		return
	}
	tw.Flush()
	fmt.Fprintln(w, "\nEvery cell:")
}

func joinConfigs(cs []ConfigName) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, "\t")
}

// configSummary is the second header line: the settings in short.
func configSummary(c ConfigName, t time.Duration) string {
	s, err := c.Settings(t)
	if err != nil {
		return ""
	}
	out := fmt.Sprintf("%v/%v/%d", s.Idle, s.Interval, s.Count)
	if s.UserTimeout > 0 {
		out += fmt.Sprintf(" U=%v", s.UserTimeout)
	}
	return out
}

// writeSummary lists the cells that broke their configuration's own
// promise, then the lesson as measured.
func writeSummary(w io.Writer, r *Result, capS float64) error {
	var broken, atRisk []string
	var skipped skips
	for _, c := range r.Cells {
		switch {
		case c.Verdict == AtRisk:
			atRisk = append(atRisk, fmt.Sprintf("  %s: killed after %s (%s); the false-kill model gave it %.0f%% in %s",
				c.Cell().Name(), fmtSeconds(*c.DetectedS), c.Cause, 100**c.FalseKillChance, fmtSeconds(c.CapS)))
		case c.Verdict == Late:
			broken = append(broken, fmt.Sprintf("  %s: error after %s, promised %s (+%s slack, RTO was %s): %s",
				c.Cell().Name(), fmtSeconds(*c.DetectedS), fmtSeconds(*c.ExpectedS), fmtSeconds(c.SlackS), fmtSeconds(c.RTOS), c.Rule))
		case c.Verdict == FalseKill:
			broken = append(broken, fmt.Sprintf("  %s: a short blip killed it after %s (%s)", c.Cell().Name(), fmtSeconds(*c.DetectedS), c.Cause))
		case c.Verdict == Never && c.ExpectedS != nil && *c.ExpectedS+c.SlackS < capS:
			broken = append(broken, fmt.Sprintf("  %s: no error within %s, promised %s: %s",
				c.Cell().Name(), fmtSeconds(capS), fmtSeconds(*c.ExpectedS), c.Rule))
		case c.Verdict == Skipped:
			skipped.add(c.Error, c.Cell().Name())
		case c.Verdict == Errored:
			broken = append(broken, fmt.Sprintf("  %s: the cell could not run: %s", c.Cell().Name(), c.Error))
		}
	}
	if len(broken) == 0 {
		fmt.Fprintln(w, "Every configuration kept its own promise (the kernel arithmetic of its settings).")
	} else {
		fmt.Fprintln(w, "Broken promises (the configuration's own settings said otherwise):")
		for _, b := range broken {
			fmt.Fprintln(w, b)
		}
	}
	if len(atRisk) > 0 {
		fmt.Fprintln(w, "Killed on a lossy path, as the false-kill model predicts for these settings (flatline plan --loss; docs/false-kills.md):")
		for _, a := range atRisk {
			fmt.Fprintln(w, a)
		}
	}
	skipped.write(w)
	var missed []string
	for _, c := range r.Cells {
		if survivalFault(c.Fault) || mustSurvive(c.Cell()) || pathMustSurvive(c.Cell()) || c.Verdict == Errored || c.Verdict == Skipped {
			continue
		}
		if c.DetectedS == nil || *c.DetectedS-c.SilentAfterS > r.TimeoutS*1.1 {
			missed = append(missed, c.Cell().Name())
		}
	}
	fmt.Fprintf(w, "\nMissed T = %s: %d of %d cells with a dead path or peer.\n", fmtSeconds(r.TimeoutS), len(missed), countDead(r))
	for _, c := range Configs() {
		n := 0
		for _, m := range missed {
			if strings.HasSuffix(m, "/"+string(c)) {
				n++
			}
		}
		if n > 0 {
			fmt.Fprintf(w, "  %-24s %d\n", c, n)
		}
	}
	fmt.Fprintln(w, `
Why: keepalive probes go out only while nothing is in flight. With data
unacknowledged (sending, replication) retransmission decides, and without
TCP_USER_TIMEOUT that takes tcp_retries2 (about 15 minutes). A frozen peer's
kernel still answers probes: only a closed window (with TCP_USER_TIMEOUT) or
an application heartbeat notices it.`)
	return nil
}

func countDead(r *Result) int {
	n := 0
	for _, c := range r.Cells {
		if !survivalFault(c.Fault) && !mustSurvive(c.Cell()) && !pathMustSurvive(c.Cell()) && c.Verdict != Errored && c.Verdict != Skipped {
			n++
		}
	}
	return n
}

// skips groups skipped cells by reason, in the order reasons first came.
type skips struct {
	reasons []string
	cells   map[string][]string
}

func (s *skips) add(reason, cell string) {
	if s.cells == nil {
		s.cells = map[string][]string{}
	}
	if _, ok := s.cells[reason]; !ok {
		s.reasons = append(s.reasons, reason)
	}
	s.cells[reason] = append(s.cells[reason], cell)
}

// write prints one line per reason: how many cells, the first few, why.
func (s *skips) write(w io.Writer) {
	if len(s.reasons) == 0 {
		return
	}
	fmt.Fprintln(w, "Skipped (this kernel cannot run them):")
	for _, r := range s.reasons {
		cells := s.cells[r]
		shown := strings.Join(cells[:min(len(cells), 2)], ", ")
		if len(cells) > 2 {
			shown += fmt.Sprintf(" and %d more", len(cells)-2)
		}
		noun := "cells"
		if len(cells) == 1 {
			noun = "cell"
		}
		fmt.Fprintf(w, "  %d %s (%s): %s\n", len(cells), noun, shown, r)
	}
}
