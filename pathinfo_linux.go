package flatline

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func readPath(fd uintptr) (Path, error) {
	ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return Path{}, &OpError{Op: "read TCP_INFO", Err: os.NewSyscallError("getsockopt", err)}
	}
	return Path{SRTT: time.Duration(ti.Rtt) * time.Microsecond, RTO: time.Duration(ti.Rto) * time.Microsecond}, nil
}
