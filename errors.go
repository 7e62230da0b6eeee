package flatline

import (
	"errors"
	"fmt"
	"net"
)

var (
	// ErrNotSupported matches every error about a socket option or kernel
	// feature this platform or kernel lacks (see *NotSupportedError).
	ErrNotSupported = errors.New("not supported")
	// ErrInvalidConfig matches every *ConfigError.
	ErrInvalidConfig = errors.New("invalid flatline config")
	// ErrNotTCP is returned for a network or connection that is not TCP.
	ErrNotTCP = errors.New("not a TCP connection")
)

// NotSupportedError names a feature missing on this platform or kernel,
// and the minimum it needs where one exists. It matches ErrNotSupported.
type NotSupportedError struct {
	Feature string // e.g. "TCP_USER_TIMEOUT"
	Needs   string // e.g. "Linux 2.6.37", "Windows 10 1709"; empty if no version has it
	GOOS    string // the platform that lacks it
}

func (e *NotSupportedError) Error() string {
	if e.Needs == "" {
		return fmt.Sprintf("flatline: %s is not supported on %s", e.Feature, e.GOOS)
	}
	return fmt.Sprintf("flatline: %s is not supported on %s (needs %s)", e.Feature, e.GOOS, e.Needs)
}

// Is makes errors.Is(err, ErrNotSupported) true.
func (e *NotSupportedError) Is(target error) bool { return target == ErrNotSupported }

// OpError is a failed socket operation: Op says what was attempted
// ("set TCP_USER_TIMEOUT", "read TCP_KEEPIDLE", ...). Err is usually an
// *os.SyscallError; errors.Is(err, syscall.EBADF) and friends see through it.
// It is a net.Error, as the standard library's *net.OpError is: Timeout
// and Temporary report what Err says (an ETIMEDOUT, EAGAIN or an expired
// deadline underneath), false when Err does not say.
type OpError struct {
	Op  string
	Err error
}

var _ net.Error = (*OpError)(nil)

func (e *OpError) Error() string { return "flatline: " + e.Op + ": " + e.Err.Error() }
func (e *OpError) Unwrap() error { return e.Err }

// Timeout reports whether the operation failed because something timed
// out: Err (or an error it wraps) has a Timeout method that says so.
func (e *OpError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// Temporary reports whether Err says the failure is temporary (as
// net.Error requires; deprecated there, kept for the interface).
func (e *OpError) Temporary() bool {
	var t interface{ Temporary() bool }
	return errors.As(e.Err, &t) && t.Temporary()
}
