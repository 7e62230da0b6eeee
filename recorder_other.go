//go:build !linux

package flatline

import "net"

// closeCause cannot read the socket's state here: a connection closed
// without an error seen is recorded as closed locally.
func closeCause(*net.TCPConn) (Cause, error) { return CauseLocalClose, nil }
