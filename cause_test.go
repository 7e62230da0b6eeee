package flatline

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/flatline-dev/flatline/internal/kernel"
)

func TestClassifyTimeout(t *testing.T) {
	tests := []struct {
		name string
		in   kernel.Conn
		want Cause
	}{
		{"retransmission gave up", kernel.Conn{Retransmits: 7, SndWnd: 65535}, CauseUnacked},
		{"unacked still counted", kernel.Conn{Unacked: 3}, CauseUnacked},
		{"keepalive", kernel.Conn{Probes: 2, SndWnd: 65535}, CauseKeepalive},
		{"persist probes behind a zero window", kernel.Conn{Probes: 4, SndWnd: 0}, CauseClosedWindow},
		{"nothing to go on", kernel.Conn{SndWnd: 100}, CauseKernelTimeout},
	}
	for _, tt := range tests {
		if got := classifyTimeout(tt.in); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDiagnoseErrors(t *testing.T) {
	op := func(op string, errno syscall.Errno) error {
		return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError("read", errno)}
	}
	tests := []struct {
		err  error
		want Cause
	}{
		{nil, CauseNone},
		{op("read", syscall.ETIMEDOUT), CauseKernelTimeout},
		{op("dial", syscall.ETIMEDOUT), CauseConnectTimeout},
		{op("read", syscall.ECONNRESET), CauseReset},
		{op("write", syscall.EPIPE), CauseReset},
		{op("read", syscall.EHOSTUNREACH), CauseUnreachable},
		{op("dial", syscall.ECONNREFUSED), CauseRefused},
		// tcp_abort (SOCK_DESTROY, ss -K) is this host's doing, not the peer's.
		{op("read", syscall.ECONNABORTED), CauseAborted},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, CauseDeadline},
		{&net.OpError{Op: "dial", Err: context.DeadlineExceeded}, CauseConnectTimeout},
		{fmt.Errorf("wrapped: %w", io.EOF), CausePeerClosed},
		{net.ErrClosed, CauseLocalClose},
		{context.Canceled, CauseCanceled},
		{op("read", syscall.EINVAL), CauseUnknown},
		{fmt.Errorf("plain"), CauseUnknown},
	}
	for _, tt := range tests {
		if got := Diagnose(nil, tt.err); got != tt.want {
			t.Errorf("Diagnose(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
