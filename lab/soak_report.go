package lab

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/flatline-dev/flatline"
)

// WriteSoakTable writes a soak's result for people: per group the kills
// beside the model's expectation and its 95 % Poisson interval, the
// kills' causes, and the loss the sockets themselves saw.
func WriteSoakTable(w io.Writer, r *SoakResult) error {
	fmt.Fprintf(w, "%d connections per group held %gs at T = %gs; the server never goes away, so every kill is false.\n", r.Conns, r.DurationS, r.TimeoutS)
	fmt.Fprintf(w, "model: %s\n\n", r.Model)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONFIG\tWORKLOAD\tLOSS\tSOCKET\tKILLED\tMODEL\t(95 %)\tPER CONN-HOUR\tCAUSES\tRETRANS/SEGS")
	for _, g := range r.Groups {
		model, rng, rate := "-", "", "-"
		if g.Predicted != nil {
			model = fmt.Sprintf("%.3g", *g.Predicted)
			rng = fmt.Sprintf("(%d-%d)", g.PredictedRange[0], g.PredictedRange[1])
			rate = fmt.Sprintf("%.2g", *g.PerConnHour)
		}
		if in, ok := g.InRange(); ok && !in {
			rng += " !"
		}
		retrans := "-"
		if g.SegsOut > 0 {
			retrans = fmt.Sprintf("%.2f %%", 100*float64(g.Retransmits)/float64(g.SegsOut))
		}
		fmt.Fprintf(tw, "%s\t%s\t%g %%\t%s\t%d of %d\t%s\t%s\t%s\t%s\t%s\n", g.Config, g.Workload, g.LossPct, socketShort(g.Socket),
			g.Killed, g.Opened, model, rng, rate, causes(g.Causes), retrans)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, g := range r.Groups {
		if g.DialFailed > 0 {
			fmt.Fprintf(w, "\nnote: %s: %d connections could not be opened through the lossy path (every SYN lost): not counted\n", g.Name(), g.DialFailed)
		}
	}
	if r.BacklogDrops > 0 {
		fmt.Fprintf(w, "\nwarning: the host's CPU input backlogs (net.core.netdev_max_backlog=%d) dropped %d packets during the soak, beyond the router's random loss and in bursts that hit every group at once (host-wide: other programs' traffic counts too); kills in clusters at the same instant are theirs\n", r.Backlog, r.BacklogDrops)
	}
	_, err := fmt.Fprintln(w, "\n! marks a count outside the model's interval. SOCKET is the client's keepalive idle/interval/count and user timeout.")
	return err
}

// socketShort is settings in the table's short form: 8s/1s/15 u22.6s.
func socketShort(k flatline.Settings) string {
	if !k.KeepAlive {
		return "keepalive off"
	}
	s := fmt.Sprintf("%v/%v/%d", k.Idle, k.Interval, k.Count)
	if k.UserTimeout > 0 {
		s += fmt.Sprintf(" u%v", k.UserTimeout)
	}
	return s
}

func causes(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
