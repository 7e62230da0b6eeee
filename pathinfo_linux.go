package flatline

import (
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
)

func readPath(fd uintptr) (Path, error) {
	ti, err := kernel.ReadTCPInfo(int(fd))
	if err != nil {
		return Path{}, &OpError{Op: "read TCP_INFO", Err: err}
	}
	return Path{SRTT: time.Duration(ti.Rtt) * time.Microsecond, RTO: time.Duration(ti.Rto) * time.Microsecond}, nil
}
