package flatline

import (
	"net"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// LastHeard returns when conn last received a segment from its peer, data
// or acknowledgement: the kernel's keepalive clock (TCP_INFO's
// tcpi_last_data_recv and tcpi_last_ack_recv, the later of the two, in
// milliseconds), as seen now. A connection the kernel ended still answers
// until it is closed, which makes it the moment to ask after Diagnose
// reports a dead peer: the peer was silent at least since then. conn must
// not be closed yet. On platforms without TCP_INFO it returns an error
// matching ErrNotSupported; a failed read is an *OpError.
func LastHeard(conn net.Conn) (time.Time, error) {
	rc, err := rawConn(conn)
	if err != nil {
		return time.Time{}, err
	}
	var c kernel.Conn
	err = control(rc, func(fd uintptr) error {
		var err error
		c, err = readConnInfo(fd)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	return time.Now().Add(-kernel.Quiet(c)), nil
}
