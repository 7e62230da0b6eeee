//go:build !linux

package flatline

import "runtime"

// ReadHost reads the TCP sysctls of the current network namespace under
// root; Linux only: elsewhere an error matching ErrNotSupported.
func ReadHost(root string) (Host, error) {
	return Host{}, &NotSupportedError{Feature: "reading /proc/sys/net/ipv4", GOOS: runtime.GOOS}
}
