package flatline

import "net"

// CauseError is an error with the cause of the connection's end attached,
// learnt from the socket while it was still open: the drivers in
// github.com/flatline-dev/flatline/drivers return it where the client
// library's own error hides the cause (pgx's "unexpected EOF", a gRPC
// status, net/http's retry). Diagnose returns its Cause; errors.Is and
// errors.As see the library's error through Unwrap, and a wrapped
// net.Error keeps its Timeout.
type CauseError struct {
	Cause Cause
	// Local and Remote are the connection's addresses ("198.51.100.7:41234"),
	// empty when unknown.
	Local, Remote string
	Err           error
}

func (e *CauseError) Error() string {
	s := "flatline: " + e.Cause.String()
	if e.Local != "" || e.Remote != "" {
		s += " (" + e.Local + "->" + e.Remote + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *CauseError) Unwrap() error { return e.Err }

// Timeout reports whether the wrapped error is a net.Error timeout, so
// that code asserting net.Error on the returned error still works.
func (e *CauseError) Timeout() bool {
	ne, ok := e.Err.(net.Error)
	return ok && ne.Timeout()
}

// Temporary is net.Error's deprecated method, passed through.
func (e *CauseError) Temporary() bool {
	ne, ok := e.Err.(interface{ Temporary() bool })
	return ok && ne.Temporary()
}
