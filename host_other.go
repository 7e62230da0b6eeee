//go:build !linux

package flatline

import "runtime"

// ReadHost reads the TCP sysctls of the current network namespace; Linux
// only.
func ReadHost() (Host, error) {
	return Host{}, &NotSupportedError{Feature: "reading /proc/sys/net/ipv4", GOOS: runtime.GOOS}
}
