package flatline

import "net"

// ReadPath reads what conn measured of its path (TCP_INFO's srtt and
// rto): call it after the handshake, before the connection's data, and
// pass it to Plan.On for the bounds on that path. On platforms without
// TCP_INFO it returns an error matching ErrNotSupported.
func ReadPath(conn net.Conn) (Path, error) {
	rc, err := rawConn(conn)
	if err != nil {
		return Path{}, err
	}
	var p Path
	err = control(rc, func(fd uintptr) error {
		var err error
		p, err = readPath(fd)
		return err
	})
	return p, err
}
