package flatline

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestOpErrorIsNetError: an *OpError is a net.Error whose Timeout and
// Temporary say what the error underneath says.
func TestOpErrorIsNetError(t *testing.T) {
	for _, tt := range []struct {
		name               string
		err                error
		timeout, temporary bool
	}{
		{"ETIMEDOUT", os.NewSyscallError("getsockopt", syscall.ETIMEDOUT), true, true},
		{"EAGAIN", os.NewSyscallError("setsockopt", syscall.EAGAIN), true, true},
		{"EBADF", os.NewSyscallError("setsockopt", syscall.EBADF), false, false},
		{"deadline", os.ErrDeadlineExceeded, true, true},
		{"plain", errors.New("not a number"), false, false},
	} {
		var err error = &OpError{Op: "set TCP_USER_TIMEOUT", Err: tt.err}
		var ne net.Error
		if !errors.As(err, &ne) {
			t.Fatalf("%s: errors.As(net.Error) false", tt.name)
		}
		if ne.Timeout() != tt.timeout || ne.Temporary() != tt.temporary {
			t.Errorf("%s: Timeout %v Temporary %v, want %v %v", tt.name, ne.Timeout(), ne.Temporary(), tt.timeout, tt.temporary)
		}
	}
}
