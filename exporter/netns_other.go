//go:build !linux

package exporter

import (
	"runtime"

	"github.com/flatline-dev/flatline"
)

// Discover needs Linux network namespaces; elsewhere it returns an error
// matching flatline.ErrNotSupported.
func Discover(procRoot, netnsDir string) (Discovery, error) {
	return Discovery{}, &flatline.NotSupportedError{Feature: "network namespace discovery", GOOS: runtime.GOOS}
}

// fillCookies leaves every Cookie 0: no namespaces to enter.
func fillCookies([]Namespace) {}
