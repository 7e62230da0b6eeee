package flatline

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// Cause is why a connection died, as far as the kernel and Go tell.
type Cause int

// The causes Diagnose tells apart.
const (
	CauseNone           Cause = iota // no error
	CauseUnknown                     // an error flatline does not recognise
	CauseKeepalive                   // keepalive probes went unanswered (ETIMEDOUT, nothing in flight)
	CauseUnacked                     // sent data stayed unacknowledged: TCP_USER_TIMEOUT or tcp_retries2 (ETIMEDOUT)
	CauseClosedWindow                // the peer kept its window closed past TCP_USER_TIMEOUT (ETIMEDOUT)
	CauseKernelTimeout               // ETIMEDOUT, without a connection to tell which of the three above
	CauseReset                       // the peer (or a middlebox) sent RST: ECONNRESET, EPIPE
	CauseUnreachable                 // an ICMP error or a local route failure: EHOSTUNREACH, ENETUNREACH
	CauseRefused                     // connect refused: ECONNREFUSED
	CauseConnectTimeout              // the dial timed out: the dial deadline, or SYNs unanswered
	CauseDeadline                    // a local deadline (SetDeadline, context): not the peer
	CausePeerClosed                  // the peer closed its side: io.EOF in CLOSE-WAIT
	CauseLocalClose                  // this side closed the connection: net.ErrClosed
	CauseCanceled                    // the context was canceled
	CauseAborted                     // this host aborted the connection: ECONNABORTED (SOCK_DESTROY, e.g. ss -K): not the peer
)

var causeNames = [...]string{
	CauseNone:           "none",
	CauseUnknown:        "unknown",
	CauseKeepalive:      "keepalive",
	CauseUnacked:        "unacked-data",
	CauseClosedWindow:   "closed-window",
	CauseKernelTimeout:  "kernel-timeout",
	CauseReset:          "reset",
	CauseUnreachable:    "unreachable",
	CauseRefused:        "refused",
	CauseConnectTimeout: "connect-timeout",
	CauseDeadline:       "deadline",
	CausePeerClosed:     "peer-closed",
	CauseLocalClose:     "local-close",
	CauseCanceled:       "canceled",
	CauseAborted:        "aborted",
}

// String returns the cause's stable name ("keepalive", "unacked-data", ...).
func (c Cause) String() string {
	if c < 0 || int(c) >= len(causeNames) {
		return "unknown"
	}
	return causeNames[c]
}

// DeadPeer reports whether the cause means the peer or the path is gone, as
// opposed to a local deadline, a local close or a cancellation.
func (c Cause) DeadPeer() bool {
	switch c {
	case CauseKeepalive, CauseUnacked, CauseClosedWindow, CauseKernelTimeout,
		CauseReset, CauseUnreachable, CauseRefused, CauseConnectTimeout:
		return true
	}
	return false
}

// Diagnose tells why c died with err. Go's net.Error.Timeout is true both
// for a local deadline and for the kernel's ETIMEDOUT; Diagnose separates
// them, and on Linux reads TCP_INFO from c (which must not be closed yet)
// to tell keepalive silence from unacknowledged data and a closed window.
// c may be nil (a failed dial, or a connection already closed): an
// ETIMEDOUT is then CauseKernelTimeout, or CauseConnectTimeout for a dial.
// An error wrapping a *CauseError has that error's Cause.
func Diagnose(c net.Conn, err error) Cause {
	if err == nil {
		return CauseNone
	}
	var ce *CauseError
	if errors.As(err, &ce) && ce.Cause != CauseNone {
		return ce.Cause
	}
	var oe *net.OpError
	dial := errors.As(err, &oe) && oe.Op == "dial"
	switch {
	case errors.Is(err, context.Canceled):
		return CauseCanceled
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		if dial {
			return CauseConnectTimeout
		}
		return CauseDeadline
	case errors.Is(err, io.EOF):
		return eofCause(c)
	case errors.Is(err, net.ErrClosed):
		return CauseLocalClose
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return CauseUnknown
	}
	cause := ErrnoCause(errno)
	if cause == CauseKernelTimeout {
		if dial {
			return CauseConnectTimeout
		}
		return timedOutCause(c)
	}
	return cause
}

// eofCause tells a peer's FIN from a kernel kill whose error another
// goroutine's Write (or Read) already took: the socket error is reported
// once, and later reads see end of file. A FIN leaves the socket in
// CLOSE-WAIT; a kernel that gave up leaves it in CLOSE with its
// retransmission or probe counts.
func eofCause(c net.Conn) Cause {
	info, ok := connInfoOf(c)
	if !ok || info.State != kernel.TCPClose {
		return CausePeerClosed
	}
	if cause := classifyTimeout(info); cause != CauseKernelTimeout {
		return cause
	}
	return CausePeerClosed
}

// connInfoOf reads TCP_INFO from c, if c is a live socket.
func connInfoOf(c net.Conn) (kernel.Conn, bool) {
	if c == nil {
		return kernel.Conn{}, false
	}
	rc, err := rawConn(c)
	if err != nil {
		return kernel.Conn{}, false
	}
	var info kernel.Conn
	if err := control(rc, func(fd uintptr) error {
		var err error
		info, err = readConnInfo(fd)
		return err
	}); err != nil {
		return kernel.Conn{}, false
	}
	return info, true
}

// timedOutCause reads what was left on the socket when the kernel gave up.
func timedOutCause(c net.Conn) Cause {
	info, ok := connInfoOf(c)
	if !ok {
		return CauseKernelTimeout
	}
	return classifyTimeout(info)
}

// classifyTimeout is the pure part of timedOutCause: the kernel model
// tells which timer ended the connection from what it left on the socket.
func classifyTimeout(i kernel.Conn) Cause {
	switch kernel.EndedBy(i) {
	case kernel.EndedUnacked:
		return CauseUnacked
	case kernel.EndedClosedWindow:
		return CauseClosedWindow
	case kernel.EndedKeepalive:
		return CauseKeepalive
	}
	return CauseKernelTimeout
}
