package flatline

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// ReadHost reads the TCP sysctls of the calling thread's network namespace
// from /proc/sys/net/ipv4, the kernel release (see Host.Kernel) and HZ
// from the kernel config (/proc/config.gz or /boot/config-RELEASE) when readable (zero otherwise). A sysctl the kernel
// lacks (tcp_syn_linear_timeouts before 6.x) keeps its zero value.
func ReadHost() (Host, error) {
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
		b, err := os.ReadFile("/proc/sys/net/ipv4/" + f.name)
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
	h.HZ = readHZ()
	h.Kernel = readKernel()
	return h, nil
}

// readKernel returns the running kernel's release, with the upstream
// version a distribution states in /proc/version: its release names its
// ABI (Debian: "5.10.0-32-amd64 (5.10.223)"). "" if unreadable.
func readKernel() string {
	rel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	k := string(bytes.TrimSpace(rel))
	if pv, err := os.ReadFile("/proc/version"); err == nil {
		if up := kernel.DistributionVersion(string(pv)); up != "" {
			k += " (" + up + ")"
		}
	}
	return k
}

// readHZ returns CONFIG_HZ from the running kernel's config, or 0
// (unknown: bounds then take the worst over the common HZ values).
func readHZ() int {
	hz, err := kernel.ConfigHZ("/")
	if err != nil {
		return 0
	}
	return hz
}
