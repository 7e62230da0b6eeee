package flatline_test

import (
	"context"
	"net"
	"syscall"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// handSetDialer is the least a program pays for the plan's options
// through a plain net.Dialer: Go's keepalive off, the same options set
// in its ControlContext before connecting, nothing else (no plan, no
// spreading). BenchmarkDialerVsNet's floor.
func handSetDialer(s flatline.Settings) *net.Dialer {
	return &net.Dialer{KeepAlive: -1, ControlContext: func(_ context.Context, _, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) { err = kernel.SetOptions(int(fd), kernel.Options(s)) }); cerr != nil {
			return cerr
		}
		return err
	}}
}
