package diag

import (
	"errors"
	"os"
	"syscall"

	"github.com/flatline-dev/flatline"
	"golang.org/x/sys/unix"
)

// diagConn is a NETLINK_SOCK_DIAG socket; it answers for the network
// namespace it was created in, whichever thread uses it later.
type diagConn struct {
	fd  int
	buf []byte
	seq uint32
}

func openDiag() (*diagConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, &flatline.OpError{Op: "open inet_diag netlink socket", Err: os.NewSyscallError("socket", err)}
	}
	return &diagConn{fd: fd, buf: make([]byte, 64<<10)}, nil
}

func (c *diagConn) Close() error { return unix.Close(c.fd) }

// dump calls yield for every TCP socket (IPv4, then IPv6) in states. It
// reports whether the kernel flagged either dump as interrupted (sockets
// came or went while it ran).
func (c *diagConn) dump(states uint32, yield func(DiagMsg) error) (interrupted bool, err error) {
	return c.dumpRaw(states, func(payload []byte) error {
		m, err := DecodeDiagMsg(payload)
		if err != nil {
			return err
		}
		return yield(m)
	})
}

// dumpRaw is dump with each socket's message undecoded (decodeDiagMsg
// decodes it), valid only during the call.
func (c *diagConn) dumpRaw(states uint32, yield func(payload []byte) error) (interrupted bool, err error) {
	for _, fam := range []uint8{afInet, afInet6} {
		c.seq++
		req := encodeDiagRequest(c.seq, fam, states)
		if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return interrupted, &flatline.OpError{Op: "request inet_diag dump", Err: os.NewSyscallError("sendto", err)}
		}
		p := DumpParser{Seq: c.seq}
		for !p.Done {
			n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return interrupted, &flatline.OpError{Op: "read inet_diag dump", Err: os.NewSyscallError("recvfrom", err)}
			}
			if n == 0 {
				return interrupted, &flatline.OpError{Op: "read inet_diag dump", Err: errors.New("netlink socket closed")}
			}
			errno, err := p.feed(c.buf[:n], yield)
			if err != nil {
				return interrupted, &flatline.OpError{Op: "read inet_diag dump", Err: err}
			}
			if errno != 0 {
				if fam == afInet6 && syscall.Errno(errno) == unix.ENOENT {
					break // IPv6 disabled in this kernel
				}
				return interrupted, &flatline.OpError{Op: "inet_diag dump", Err: os.NewSyscallError("netlink", syscall.Errno(errno))}
			}
		}
		interrupted = interrupted || p.Interrupted
	}
	return interrupted, nil
}
