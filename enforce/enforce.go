package enforce

import (
	"errors"
	"fmt"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// Options says what to enforce. The zero value enforces the plan of a zero
// flatline.Config (30 s) and keeps it against looser setsockopt calls.
type Options struct {
	// Config is the promise; its Plan's settings are applied.
	Config flatline.Config
	// AllowLooser lets a process set keepalive or user-timeout values
	// looser than the plan on its own sockets (they are counted in
	// Stats.LooserAllowed). False rewrites them to the plan's.
	AllowLooser bool
}

// Stats are the kernel programs' counters since Attach.
type Stats struct {
	Connects      uint64 `json:"connects"`       // connections configured before their SYN
	Accepts       uint64 `json:"accepts"`        // accepted connections configured
	SetErrors     uint64 `json:"set_errors"`     // bpf_setsockopt calls that failed (a kernel older than 5.9 fails them all)
	Clamped       uint64 `json:"clamped"`        // setsockopt values rewritten to the plan's
	LooserAllowed uint64 `json:"looser_allowed"` // looser values let through (AllowLooser)
}

var (
	// ErrNotCgroup2 matches errors about a path that is not a directory of
	// a cgroup v2 hierarchy.
	ErrNotCgroup2 = errors.New("not a cgroup v2 directory")
	// ErrPermission matches errors about missing privilege to load or
	// attach eBPF programs (root, or CAP_BPF with CAP_NET_ADMIN).
	ErrPermission = errors.New("not permitted to load or attach eBPF programs")
	// ErrNotPinned is returned by Detach when no pinned enforcement exists
	// for the cgroup under the directory.
	ErrNotPinned = errors.New("nothing pinned for this cgroup")
)

// Feature names and minimum kernels, as NotSupportedError reports them.
const (
	featureSockOps    = "eBPF sock_ops programs"
	featureSetsockopt = "bpf_setsockopt of SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT from sock_ops"
	featureSockopt    = "cgroup setsockopt hook (BPF_CGROUP_SETSOCKOPT)"
	featureCgroupLink = "bpf_link for cgroup programs"

	needsSockOps    = "Linux 4.13"
	needsSetsockopt = "Linux 5.9"
	needsSockopt    = "Linux 5.3"
	needsCgroupLink = "Linux 5.7"
)

// minKernel is the oldest kernel with everything above.
var minKernel = kernel.Version{Major: 5, Minor: 9}

// values is the plan as the kernel programs read it: whole seconds for
// keepalive and jitter, milliseconds for the user timeout.
type values struct {
	idle, intvl, cnt, userTimeout, synCnt uint32
	offsets, step                         uint32 // jitter: kernel.Jitter
	hz                                    uint32 // the kernel's CONFIG_HZ; 0: unknown (set by Attach)
	allowLooser                           bool
}

// valuesOf converts a plan into the programs' units. Keepalive values are
// whole seconds already (the plan derives them so), and so is the jitter
// step (kernel.JitterStep).
func valuesOf(p flatline.Plan, allowLooser bool) (values, error) {
	s := p.Settings
	if !s.KeepAlive || s.Idle < time.Second || s.Interval < time.Second || s.Count < 1 {
		return values{}, fmt.Errorf("enforce: plan without keepalive (idle %v, interval %v, count %d)", s.Idle, s.Interval, s.Count)
	}
	v := values{
		idle:        uint32(kernel.Seconds(s.Idle)),
		intvl:       uint32(kernel.Seconds(s.Interval)),
		cnt:         uint32(s.Count),
		userTimeout: uint32(kernel.Millis(s.UserTimeout)),
		synCnt:      uint32(s.SynCount),
		allowLooser: allowLooser,
	}
	if p.JitterOffsets > 1 {
		v.offsets, v.step = uint32(p.JitterOffsets), uint32(p.JitterStep/time.Second)
	}
	return v, nil
}

// pinName is the directory under a bpffs directory that holds one cgroup's
// pinned links and maps, named by the cgroup's inode (its cgroup id).
func pinName(cgroupID uint64) string { return fmt.Sprintf("flatline-enforce-%d", cgroupID) }
