package flatline

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
)

// TestCauseError: Diagnose returns the cause a driver attached, however
// deep, and the wrapped error stays reachable (errors.Is, net.Error).
func TestCauseError(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, tt := range []struct {
		err  error
		want Cause
	}{
		{&CauseError{Cause: CauseUnacked, Err: io.ErrUnexpectedEOF}, CauseUnacked},
		{fmt.Errorf("query: %w", &CauseError{Cause: CauseKeepalive, Err: io.ErrUnexpectedEOF}), CauseKeepalive},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &CauseError{Cause: CauseReset, Err: errors.New("silent")}}, CauseReset},
		{&CauseError{Err: io.EOF}, CausePeerClosed}, // no cause attached: the wrapped error decides
	} {
		if got := Diagnose(nil, tt.err); got != tt.want {
			t.Errorf("Diagnose(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	ce := &CauseError{Cause: CauseUnacked, Local: "198.51.100.7:41234", Remote: "192.0.2.1:5432", Err: timeout}
	if !errors.Is(ce, os.ErrDeadlineExceeded) || !ce.Timeout() {
		t.Errorf("%v: the wrapped error is not reachable", ce)
	}
	if want := "flatline: unacked-data (198.51.100.7:41234->192.0.2.1:5432): read tcp: i/o timeout"; ce.Error() != want {
		t.Errorf("Error() = %q, want %q", ce.Error(), want)
	}
}
