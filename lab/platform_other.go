//go:build !linux

package lab

import "runtime"

func errPlatform() error {
	return &UnsupportedError{Feature: "Linux network namespaces (this is " + runtime.GOOS + ")"}
}
