package storm

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Frame is one captured frame: Ethernet bytes and the kernel's receive
// timestamp (CLOCK_REALTIME).
type Frame struct {
	At   time.Time
	Data []byte
}

// Sniffer captures every frame on one interface through an AF_PACKET
// socket with a large receive buffer, so that a burst of thousands of
// probes within one tick is not lost in the capture itself (a default
// 208 KiB buffer holds about 300 small frames). WritePcap saves what it
// captured.
type Sniffer struct {
	f     *os.File
	mu    sync.Mutex
	stats unix.TpacketStats
}

// snifferBuffer is the receive buffer asked for with SO_RCVBUFFORCE.
const snifferBuffer = 64 << 20

// Sniff opens a capture on the interface named ifname in the calling
// thread's network namespace (call it inside lab.Namespace.Do). It needs
// CAP_NET_RAW; SO_RCVBUFFORCE needs CAP_NET_ADMIN, without which the
// buffer is the namespace's rmem_max.
func Sniff(ifname string) (*Sniffer, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("storm: sniff %s: %w", ifname, err)
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, proto)
	if err != nil {
		return nil, fmt.Errorf("storm: sniff %s: %w", ifname, os.NewSyscallError("socket", err))
	}
	fail := func(op string, err error) (*Sniffer, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("storm: sniff %s: %w", ifname, os.NewSyscallError(op, err))
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, snifferBuffer); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, snifferBuffer); err != nil {
			return fail("setsockopt SO_RCVBUF", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fail("setsockopt SO_TIMESTAMPNS", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.Index}); err != nil {
		return fail("bind", err)
	}
	return &Sniffer{f: os.NewFile(uintptr(fd), "packet:"+ifname)}, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Read returns the next frame, waiting for one. It fails with
// os.ErrClosed once Close was called.
func (s *Sniffer) Read() (Frame, error) {
	rc, err := s.f.SyscallConn()
	if err != nil {
		return Frame{}, err
	}
	buf := make([]byte, 256) // headers are all the detector reads
	oob := make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))))
	var n, oobn int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return Frame{}, err
	}
	if rerr != nil {
		return Frame{}, os.NewSyscallError("recvmsg", rerr)
	}
	fr := Frame{Data: buf[:n]}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				fr.At = time.Unix(ts.Unix())
			}
		}
	}
	if fr.At.IsZero() {
		fr.At = time.Now()
	}
	return fr, nil
}

// Drops returns how many frames the kernel dropped because the buffer was
// full, since the sniffer was opened (PACKET_STATISTICS, read before
// Close).
func (s *Sniffer) Drops() (uint32, error) {
	rc, err := s.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		st, err := unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			serr = os.NewSyscallError("getsockopt PACKET_STATISTICS", err)
			return
		}
		s.mu.Lock()
		s.stats.Packets += st.Packets
		s.stats.Drops += st.Drops
		s.mu.Unlock()
	})
	if err := errors.Join(err, serr); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Drops, nil
}

// Close stops the capture; a pending Read returns.
func (s *Sniffer) Close() error { return s.f.Close() }
