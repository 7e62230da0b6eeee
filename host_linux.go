package flatline

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// ReadHost reads, under root ("/" on a live host, a fixture directory in
// tests), the TCP sysctls of the calling thread's network namespace from
// proc/sys/net/ipv4, the kernel release (see Host.Kernel) from
// proc/sys/kernel/osrelease and proc/version, and HZ from the kernel's
// config (kernel.ConfigHZ: proc/config.gz or boot/config-RELEASE; zero,
// unknown, when neither is readable; it does not fall back to
// kernel.HostHZ's 100 ms timer-list measurement, since ReadHost runs once
// per network namespace a scan visits). A sysctl the kernel lacks (tcp_syn_linear_timeouts before
// 6.x) keeps its zero value; another missing or malformed one is an
// *OpError naming it. Read a host once, at the edge, and pass it to
// Config.PlanFor, Config.ValidateFor and Settings.Bounds.
func ReadHost(root string) (Host, error) {
	var h Host
	for _, f := range []struct {
		name string
		set  func(int)
	}{
		{"tcp_retries2", func(v int) { h.Retries2 = v }},
		{"tcp_syn_retries", func(v int) { h.SynRetries = v }},
		{"tcp_syn_linear_timeouts", func(v int) { h.SynLinearTimeouts = v }},
		{"tcp_keepalive_time", func(v int) { h.KeepaliveTime = time.Duration(v) * time.Second }},
		{"tcp_keepalive_intvl", func(v int) { h.KeepaliveIntvl = time.Duration(v) * time.Second }},
		{"tcp_keepalive_probes", func(v int) { h.KeepaliveProbes = v }},
	} {
		b, err := os.ReadFile(filepath.Join(root, "proc/sys/net/ipv4", f.name))
		if os.IsNotExist(err) && f.name == "tcp_syn_linear_timeouts" {
			continue
		}
		if err != nil {
			return Host{}, &OpError{Op: "read net.ipv4." + f.name, Err: err}
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return Host{}, &OpError{Op: "read net.ipv4." + f.name, Err: fmt.Errorf("not a number: %q", bytes.TrimSpace(b))}
		}
		f.set(v)
	}
	if hz, err := kernel.ConfigHZ(root); err == nil {
		h.HZ = hz
	}
	h.Kernel = readKernel(root)
	return h, nil
}

// readKernel returns the kernel release under root, with the upstream
// version a distribution states in proc/version: its release names its
// ABI (Debian: "5.10.0-32-amd64 (5.10.223)"). "" if unreadable.
func readKernel(root string) string {
	rel, err := os.ReadFile(filepath.Join(root, "proc/sys/kernel/osrelease"))
	if err != nil {
		return ""
	}
	k := string(bytes.TrimSpace(rel))
	if pv, err := os.ReadFile(filepath.Join(root, "proc/version")); err == nil {
		if up := kernel.DistributionVersion(string(pv)); up != "" {
			k += " (" + up + ")"
		}
	}
	return k
}
