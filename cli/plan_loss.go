package cli

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/liveness"
)

// parseLoss reads `--loss`: a percentage ("1%", "0.5%") or a fraction
// ("0.01"), each way, below 100 %.
func parseLoss(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, usagef("--loss %q is not a loss rate: write a percentage like 1%% or a fraction like 0.01", s)
	}
	if pct {
		v /= 100
	}
	if !pct && v >= 1 && v < 100 {
		return 0, usagef("--loss %q would drop every packet: for %v percent write %v%%, or the fraction %v", s, v, v, v/100)
	}
	if v < 0 || v >= 1 {
		return 0, usagef("--loss %q is outside [0, 100%%): write a percentage like 1%% or a fraction like 0.01 (a fraction of 1 or more would drop everything)", s)
	}
	return v, nil
}

// falseKillFields are the false-kill model's figures in `flatline plan
// --loss`: outage_survived_s is null where nothing ends a live connection.
type falseKillFields struct {
	FalseKillsPerHour float64  `json:"false_kills_per_hour"`
	OutageSurvivedS   *float64 `json:"outage_survived_s"`
	Exchanges         int      `json:"exchanges"`
}

// falseKillJSON is the heartbeat's row.
type falseKillJSON struct {
	falseKillFields
	Rule string `json:"rule"`
}

func newFalseKillFields(k flatline.FalseKill) *falseKillFields {
	j := &falseKillFields{FalseKillsPerHour: k.PerHour, Exchanges: k.Exchanges}
	if !k.Never {
		o := k.OutageSurvived.Seconds()
		j.OutageSurvivedS = &o
	}
	return j
}

// addLoss fills the false-kill fields of r for loss: flatline's plan, Go's
// and Linux's defaults per state, the heartbeat for the same timeout, and
// the plan's notes at that loss.
func (r *planReport) addLoss(p flatline.Plan, host flatline.Host, loss float64) error {
	f, err := p.FalseKills(loss)
	if err != nil {
		return usageError{err}
	}
	goDefault, err := flatline.GoDialerSettings().FalseKills(host, loss, 0)
	if err != nil {
		return err
	}
	linuxDefault, err := host.DefaultSettings().FalseKills(host, loss, 0)
	if err != nil {
		return err
	}
	for i := range r.States {
		st := &r.States[i]
		st.Flatline.setFalseKill(f.State(st.State))
		st.GoDefault.setFalseKill(goDefault[i])
		st.LinuxDefault.setFalseKill(linuxDefault[i])
	}
	lp, err := liveness.Config{Timeout: p.Timeout}.Plan()
	if err != nil {
		return err
	}
	h, err := lp.FalseKills(p.Settings, loss)
	if err != nil {
		return err
	}
	r.Loss, r.Heartbeat = &loss, &falseKillJSON{falseKillFields: *newFalseKillFields(h), Rule: h.Rule}
	for _, n := range f.Notes {
		if !slices.Contains(r.Notes, n) { // Plan.Notes has the one at DesignLoss
			r.Notes = append(r.Notes, n)
		}
	}
	return nil
}

func (b *boundJSON) setFalseKill(k flatline.FalseKill) { b.falseKillFields = newFalseKillFields(k) }

// writeLossTable prints the false-kill forecast beside the defaults.
func (r planReport) writeLossTable(w io.Writer) error {
	fmt.Fprintf(w, "\nfalse kills of a live peer at %s random loss each way: per connection-hour (the longest outage always survived)\n", percent(*r.Loss))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "state\tflatline\tGo net.Dialer (15s/15s/9)\tLinux default\n")
	for _, s := range r.States {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.State, s.Flatline.falseKills(), s.GoDefault.falseKills(), s.LinuxDefault.falseKills())
	}
	h := r.Heartbeat
	fmt.Fprintf(tw, "heartbeat (liveness, same timeout)\t%s\t-\t-\n", formatFalseKills(h.FalseKillsPerHour, h.OutageSurvivedS))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "sending counts one write a second; connecting is the chance a dial fails\n")
	return nil
}

func (b boundJSON) falseKills() string {
	if b.falseKillFields == nil {
		return "-"
	}
	return formatFalseKills(b.FalseKillsPerHour, b.OutageSurvivedS)
}

func formatFalseKills(perHour float64, outage *float64) string {
	if outage == nil {
		return "0 (nothing ends it)"
	}
	o := time.Duration(*outage * float64(time.Second)).Round(time.Millisecond)
	switch {
	case perHour == 0:
		return fmt.Sprintf("0 (%v)", o)
	case perHour < 1e-12:
		return fmt.Sprintf("<1e-12 (%v)", o)
	}
	return fmt.Sprintf("%.2g (%v)", perHour, o)
}

func percent(f float64) string { return strconv.FormatFloat(f*100, 'g', 4, 64) + "%" }
