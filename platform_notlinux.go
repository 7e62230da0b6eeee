//go:build !linux

package flatline

import (
	"fmt"
	"runtime"
	"time"
)

// retransmitOnlyPlan adjusts a plan for a platform whose user-timeout
// equivalent (opt, whole seconds) bounds retransmission only: keepalive
// Count is honoured as set (the plan's U = I + C·V keeps the idle bound the
// same), but a closed window is never bounded.
func retransmitOnlyPlan(p *Plan, opt string) {
	rounded := time.Duration(seconds(p.Settings.UserTimeout)) * time.Second
	for i, b := range p.Bounds {
		switch b.State {
		case StateSending:
			b.Worst = rounded
			b.Rule = fmt.Sprintf("%s %v bounds unacknowledged data", opt, rounded)
		case StateClosedWindow:
			b = Bound{State: b.State, Never: true, Rule: runtime.GOOS + " has no user-timeout rule for a closed window"}
		}
		p.Bounds[i] = b
	}
	p.Notes = append(p.Notes,
		fmt.Sprintf("%s: TCP_USER_TIMEOUT becomes %s in whole seconds (%v), which bounds retransmission only", runtime.GOOS, opt, rounded),
		runtime.GOOS+": a peer that keeps its window closed is never noticed by the kernel; use an application heartbeat",
		runtime.GOOS+": the timer slack stated is Linux's; this kernel's timers were not measured")
}
