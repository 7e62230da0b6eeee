package topology

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// RouterOnAllCPUs makes the router receive on every CPU: receive packet
// steering (rps_cpus) on both of its links spreads their packets over
// every CPU's input backlog by flow, as a NIC with receive-side scaling
// spreads flows over its queues. Without it, a burst that one CPU sends
// (a bucket of keepalive timers, all fired by that CPU when the other is
// idle) lands in that CPU's backlog alone.
func (t *Topology) RouterOnAllCPUs() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	mask := cpuMask(runtime.NumCPU())
	return kernel.InNetNSSysfs(t.Router.Path, func(sys string) error {
		for _, link := range []string{RouterClientLink, RouterServerLink} {
			qs, err := filepath.Glob(filepath.Join(sys, "class", "net", link, "queues", "rx-*", "rps_cpus"))
			if err != nil || len(qs) == 0 {
				return fmt.Errorf("lab: no receive queues of %s in %s's sysfs (CONFIG_RPS)", link, t.Router.Name)
			}
			for _, q := range qs {
				if err := os.WriteFile(q, []byte(mask+"\n"), 0o644); err != nil {
					return fmt.Errorf("lab: receive packet steering on %s: %w", link, err)
				}
			}
		}
		return nil
	})
}

// cpuMask is the rps_cpus mask of CPUs 0 to n-1: hexadecimal, in groups
// of 32 bits separated by commas, most significant first.
func cpuMask(n int) string {
	n = max(n, 1)
	var groups []string
	for lo := 0; lo < n; lo += 32 {
		bits := min(n-lo, 32)
		groups = append([]string{fmt.Sprintf("%08x", uint32(1<<bits-1))}, groups...)
	}
	return strings.Join(groups, ",")
}
