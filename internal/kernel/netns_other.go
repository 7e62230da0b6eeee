//go:build !linux

package kernel

import (
	"errors"
	"runtime"
)

// errNoNetNS is what the namespace functions return off Linux.
var errNoNetNS = errors.New("kernel: network namespaces are Linux only, this is " + runtime.GOOS)

// InNetNS is Linux only.
func InNetNS(path string, fn func() error) error { return errNoNetNS }
