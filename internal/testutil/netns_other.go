//go:build !linux

package testutil

import (
	"runtime"
	"testing"
)

// NetNS skips t: network namespaces are Linux only.
func NetNS(t testing.TB, role string) (name, path string) {
	t.Helper()
	t.Skip("network namespaces are Linux only, this is " + runtime.GOOS)
	return "", ""
}
