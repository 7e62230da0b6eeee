package kernel

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ReadTCPInfo reads TCP_INFO from the socket fd.
func ReadTCPInfo(fd int) (*unix.TCPInfo, error) {
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt TCP_INFO", err)
	}
	return ti, nil
}

// ConnOf is what the rules need of a TCP_INFO read with getsockopt (which
// does not report the pending timer).
func ConnOf(ti *unix.TCPInfo) Conn {
	return Conn{
		State:        ti.State,
		Timer:        TimerUnknown,
		Unacked:      ti.Unacked,
		Notsent:      ti.Notsent_bytes,
		SndWnd:       ti.Snd_wnd,
		HasSndWnd:    true,
		Retransmits:  ti.Retransmits,
		Probes:       ti.Probes,
		LastDataRecv: time.Duration(ti.Last_data_recv) * time.Millisecond,
		LastAckRecv:  time.Duration(ti.Last_ack_recv) * time.Millisecond,
	}
}
