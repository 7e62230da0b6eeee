//go:build !linux

package flatline_test

import (
	"net"

	"github.com/flatline-dev/flatline"
)

// handSetDialer is nil where the kernel model sets no options:
// BenchmarkDialerVsNet has no floor case there.
func handSetDialer(flatline.Settings) *net.Dialer { return nil }
