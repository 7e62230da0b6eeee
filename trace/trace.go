package trace

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
)

// Event is one TCP connection the kernel ended without the application
// asking: the socket reached CLOSE with an error while a process still held
// it.
type Event struct {
	Time   time.Time      // when the kernel ended it
	NetNS  uint32         // network namespace (inode of /proc/PID/ns/net)
	Local  netip.AddrPort // local address and port
	Remote netip.AddrPort // remote address and port
	// PID and Comm name the process that connected or accepted the
	// socket, recorded while it was alive; or, for a socket older than the
	// tracer, the process that held it when it died. Zero and "" when
	// neither is known.
	PID    int
	Comm   string
	Cgroup uint64 // the owner's cgroup v2 id (inode of its directory); 0 if unknown
	Inode  uint64 // the socket's inode (socket:[N] in /proc/PID/fd)
	State  string // TCP state before CLOSE ("established", "syn-sent", ...)

	Cause flatline.Cause // keepalive, unacked-data, closed-window, reset, unreachable, connect-timeout, ...
	// Limit says which limit ran out for a timeout: LimitUserTimeout,
	// LimitRetries2, LimitKeepCnt or LimitSynRetries; "" otherwise.
	Limit     string
	Errno     syscall.Errno // what the application's next read or write returns
	SoftErrno syscall.Errno // an earlier soft error (ICMP), 0 if none

	// The settings in force: effective values, the namespace's sysctls
	// where the socket sets none.
	Keepalive   bool          // SO_KEEPALIVE
	KeepIdle    time.Duration // TCP_KEEPIDLE
	KeepIntvl   time.Duration // TCP_KEEPINTVL
	KeepCnt     int           // TCP_KEEPCNT
	UserTimeout time.Duration // TCP_USER_TIMEOUT, 0 when unset
	Retries2    int           // net.ipv4.tcp_retries2
	SynRetries  int           // TCP_SYNCNT or net.ipv4.tcp_syn_retries

	// The counters at the end.
	Retransmits  int    // consecutive retransmissions by timeout (icsk_retransmits)
	Probes       int    // keepalive or zero-window probes unanswered (icsk_probes_out)
	Backoff      int    // exponential backoff steps (icsk_backoff)
	TotalRetrans uint32 // segments retransmitted over the connection's life
	SndWnd       uint32 // the peer's last advertised window, bytes
	// Silent is how long the peer had sent nothing (since the last
	// segment received), to the tick; 0 for a connection never
	// established.
	Silent time.Duration
}

// ErrClosed is returned by Read once the Tracer is closed.
var ErrClosed = errors.New("trace: tracer closed")

// ErrProcessExited is returned by Read, with Options.PID, once that
// process has exited: it has no sockets left to trace.
var ErrProcessExited = errors.New("trace: the traced process exited")

// Options select which deaths a Tracer reports. The zero value reports
// every one on the host, in every network namespace.
type Options struct {
	// PID keeps only sockets owned by this process (0: any). New fails if
	// it does not exist; Read returns ErrProcessExited once it exits.
	PID int
	// Cgroup keeps only sockets whose owner ran in this cgroup v2
	// directory or below it (for example
	// /sys/fs/cgroup/system.slice/postgresql.service); "" for any. New
	// fails for anything else (a cgroup v1 directory, a plain directory).
	// A cgroup id is matched by asking the kernel for its directory
	// (open_by_handle_at: root, or CAP_DAC_READ_SEARCH).
	Cgroup string
	// NetNS and NetNSPath must name a network namespace (New checks the
	// file is one).
	//
	// NetNS keeps only sockets of this named network namespace
	// (/run/netns/NAME, as `ip netns` makes); "" for any.
	NetNS string
	// NetNSPath is NetNS as a path (/proc/PID/ns/net, /run/netns/NAME).
	NetNSPath string
}

// MinKernel is the oldest kernel the tracer runs on: BPF ring buffers
// (5.8), BTF-typed tracepoints and fentry/fexit (5.5), bpf_jiffies64 (5.5).
const MinKernel = "Linux 5.8 with BTF (CONFIG_DEBUG_INFO_BTF)"

// eventJSON is Event's --json form: one object per line.
type eventJSON struct {
	Time      time.Time `json:"time"`
	NetNS     uint32    `json:"netns"`
	Local     string    `json:"local"`
	Remote    string    `json:"remote"`
	PID       int       `json:"pid"`
	Comm      string    `json:"comm"`
	Cgroup    uint64    `json:"cgroup,omitempty"`
	Inode     uint64    `json:"inode,omitempty"`
	State     string    `json:"state"`
	Cause     string    `json:"cause"`
	Limit     string    `json:"limit,omitempty"`
	Errno     string    `json:"errno"`
	Errnum    int       `json:"errnum"`
	SoftErrno string    `json:"soft_errno,omitempty"`
	// Settings are the socket's keepalive and user timeout at its end, in
	// the one JSON form of flatline.Settings (seconds).
	Settings     flatline.Settings `json:"settings"`
	Retries2     int               `json:"tcp_retries2"`
	SynRetries   int               `json:"syn_retries"`
	Retransmits  int               `json:"retransmits"`
	Probes       int               `json:"probes"`
	Backoff      int               `json:"backoff"`
	TotalRetrans uint32            `json:"total_retrans"`
	SndWnd       uint32            `json:"snd_wnd"`
	SilentS      float64           `json:"silent_s"`
}

// MarshalJSON writes the event with durations in seconds and the
// errno by its C name ("ETIMEDOUT") beside its number.
func (e Event) MarshalJSON() ([]byte, error) {
	j := eventJSON{
		Time: e.Time, NetNS: e.NetNS, Local: e.Local.String(), Remote: e.Remote.String(),
		PID: e.PID, Comm: e.Comm, Cgroup: e.Cgroup, Inode: e.Inode, State: e.State,
		Cause: e.Cause.String(), Limit: e.Limit, Errno: errnoName(e.Errno), Errnum: int(e.Errno),
		Settings: flatline.Settings{KeepAlive: e.Keepalive, Idle: e.KeepIdle, Interval: e.KeepIntvl,
			Count: e.KeepCnt, UserTimeout: e.UserTimeout},
		Retries2: e.Retries2, SynRetries: e.SynRetries,
		Retransmits: e.Retransmits, Probes: e.Probes, Backoff: e.Backoff,
		TotalRetrans: e.TotalRetrans, SndWnd: e.SndWnd, SilentS: e.Silent.Seconds(),
	}
	if e.SoftErrno != 0 {
		j.SoftErrno = errnoName(e.SoftErrno)
	}
	return json.Marshal(j)
}

// ErrnoName returns the C name of the event's errno ("ETIMEDOUT"), or ""
// for none.
func (e Event) ErrnoName() string { return errnoName(e.Errno) }

// errnoNames are the C names of the errnos a kernel-ended TCP socket
// carries.
var errnoNames = map[syscall.Errno]string{
	syscall.ETIMEDOUT:    "ETIMEDOUT",
	syscall.ECONNRESET:   "ECONNRESET",
	syscall.ECONNREFUSED: "ECONNREFUSED",
	syscall.ECONNABORTED: "ECONNABORTED",
	syscall.EPIPE:        "EPIPE",
	syscall.EHOSTUNREACH: "EHOSTUNREACH",
	syscall.ENETUNREACH:  "ENETUNREACH",
	syscall.EHOSTDOWN:    "EHOSTDOWN",
	syscall.ENETDOWN:     "ENETDOWN",
	syscall.EPROTO:       "EPROTO",
}

func errnoName(e syscall.Errno) string {
	if n, ok := errnoNames[e]; ok {
		return n
	}
	if e == 0 {
		return ""
	}
	return "errno " + strconv.Itoa(int(e))
}
