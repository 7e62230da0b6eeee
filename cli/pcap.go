package cli

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline/storm"
	"github.com/spf13/cobra"
)

type pcapFlags struct {
	json   bool
	window time.Duration
	bin    time.Duration
	flows  int
}

func newPcapCmd() *cobra.Command {
	var f pcapFlags
	cmd := &cobra.Command{
		Use:   "pcap [--json] FILE",
		Short: "Find keepalive probes in a capture: per flow, over time, the worst burst and flows in lockstep",
		Long: `pcap reads a pcap or pcapng file (Ethernet, Linux cooked, raw IP, loopback)
and finds TCP keepalive probes the way Wireshark's tcp.analysis.keep_alive does:
an ACK with 0 or 1 byte of payload whose sequence number is one below the next
expected one of its direction. It shows probes per flow and over time, the
worst burst (most probes within --window) and groups of flows whose every probe
left within --window of each other: connections probing in lockstep.`,
		Example: `  flatline pcap capture.pcapng
  flatline pcap --json --window 10ms capture.pcap`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("pcap takes one capture file, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.window <= 0 || f.bin <= 0 {
				return usagef("--window and --bin must be positive")
			}
			return runPcap(cmd.OutOrStdout(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print JSON for programs instead of the table")
	fl.DurationVar(&f.window, "window", storm.DefaultWindow(), fmt.Sprintf("probes within this window count as one burst (one tick at HZ=%d)", storm.ReferenceHZ))
	fl.DurationVar(&f.bin, "bin", storm.DefaultBin(), fmt.Sprintf("histogram bin (the timer wheel's bucket for 2-16 s timers at HZ=%d)", storm.ReferenceHZ))
	fl.IntVar(&f.flows, "flows", 20, "flows to list in the table, most probes first")
	return cmd
}

// pcapReport is what `flatline pcap` prints, for people and as JSON.
type pcapReport struct {
	File       string     `json:"file"`
	Frames     int        `json:"frames"`
	Segments   int        `json:"segments"`
	Malformed  int        `json:"malformed"`
	Truncated  bool       `json:"truncated"`
	Stop       string     `json:"stop,omitempty"` // with truncated: where and why reading stopped
	Probes     int        `json:"probes"`
	Flows      int        `json:"flows"`
	WorstBurst int        `json:"worst_burst"`
	WorstAtS   float64    `json:"worst_at_s"`
	WindowS    float64    `json:"window_s"`
	BinS       float64    `json:"bin_s"`
	Histogram  []int      `json:"histogram"`
	PerFlow    []flowJSON `json:"per_flow"`
	Lockstep   [][]string `json:"lockstep"`
	r          storm.Report
}

type flowJSON struct {
	Flow    string  `json:"flow"`
	Probes  int     `json:"probes"`
	FirstS  float64 `json:"first_s"`
	LastS   float64 `json:"last_s"`
	PeriodS float64 `json:"period_s"`
}

func newPcapReport(file string, r storm.Report) pcapReport {
	out := pcapReport{
		File: file, Frames: r.Frames, Segments: r.Segments, Malformed: r.Malformed, Truncated: r.Truncated, Stop: r.Stop,
		Probes: r.Probes, Flows: r.Flows, WorstBurst: r.WorstBurst, WorstAtS: r.WorstAt.Seconds(),
		WindowS: r.Window.Seconds(), BinS: r.Bin.Seconds(), Histogram: r.Histogram, Lockstep: r.Lockstep,
		PerFlow: make([]flowJSON, 0, len(r.PerFlow)), r: r,
	}
	if out.Histogram == nil {
		out.Histogram = []int{}
	}
	for _, f := range r.PerFlow {
		out.PerFlow = append(out.PerFlow, flowJSON{Flow: f.Flow, Probes: f.Probes, FirstS: f.First.Seconds(), LastS: f.Last.Seconds(), PeriodS: f.Period.Seconds()})
	}
	return out
}

func runPcap(w io.Writer, name string, f pcapFlags) error {
	file, err := os.Open(name)
	if err != nil {
		return err
	}
	defer file.Close()
	c, err := storm.ReadCapture(file)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	rep := newPcapReport(name, c.Analyze(f.window, f.bin))
	if f.json {
		return writeJSON(w, rep)
	}
	printPcap(w, rep, f.flows)
	return nil
}

func printPcap(w io.Writer, rep pcapReport, maxFlows int) {
	fmt.Fprintf(w, "%s: %d frames, %d TCP segments", rep.File, rep.Frames, rep.Segments)
	if rep.Malformed > 0 {
		fmt.Fprintf(w, ", %d malformed", rep.Malformed)
	}
	if rep.Truncated {
		fmt.Fprintf(w, ", file cut short (%s)", rep.Stop)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "keepalive probes: %d from %d flows\n", rep.Probes, rep.Flows)
	if rep.Probes == 0 {
		return
	}
	fmt.Fprintf(w, "worst burst: %d probes within %v, at +%.3fs\n", rep.WorstBurst, rep.r.Window, rep.WorstAtS)
	fmt.Fprintf(w, "\nprobes per %v:\n", rep.r.Bin)
	fmt.Fprintln(w, sparkline(rep.Histogram, 80))
	flows := slices.Clone(rep.PerFlow)
	slices.SortStableFunc(flows, func(a, b flowJSON) int { return b.Probes - a.Probes })
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FLOW\tPROBES\tFIRST\tLAST\tPERIOD")
	for i, fl := range flows {
		if i == maxFlows {
			fmt.Fprintf(tw, "... %d more flows\t\t\t\t\n", len(flows)-maxFlows)
			break
		}
		fmt.Fprintf(tw, "%s\t%d\t+%.3fs\t+%.3fs\t%.3fs\n", fl.Flow, fl.Probes, fl.FirstS, fl.LastS, fl.PeriodS)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ngroups of flows probing in lockstep (every probe within %v): %d\n", rep.r.Window, len(rep.Lockstep))
	for i, g := range rep.Lockstep {
		if i == 10 {
			fmt.Fprintf(w, "  ... %d more groups\n", len(rep.Lockstep)-10)
			break
		}
		shown := g
		if len(shown) > 3 {
			shown = append(slices.Clone(g[:3]), fmt.Sprintf("and %d more", len(g)-3))
		}
		fmt.Fprintf(w, "  %d flows: %s\n", len(g), strings.Join(shown, ", "))
	}
}

// sparkline draws counts as one line of block characters, at most width
// wide (neighbouring bins merged by their maximum).
func sparkline(counts []int, width int) string {
	if len(counts) == 0 {
		return ""
	}
	per := (len(counts) + width - 1) / width
	var cols []int
	for i := 0; i < len(counts); i += per {
		cols = append(cols, slices.Max(counts[i:min(i+per, len(counts))]))
	}
	top := slices.Max(cols)
	const blocks = " ▁▂▃▄▅▆▇█"
	r := []rune(blocks)
	var b strings.Builder
	for _, c := range cols {
		i := 0
		if top > 0 {
			i = (c*(len(r)-1) + top - 1) / top
		}
		b.WriteRune(r[i])
	}
	return fmt.Sprintf("%s  (max %d)", b.String(), top)
}
