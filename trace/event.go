package trace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// recordSize is the size of struct event in trace.c.
const recordSize = 128

// Bits of struct event's flags field.
const (
	flagKeepalive = 1 << 0 // SO_KEEPALIVE was on
	flagOwner     = 1 << 1 // pid, comm and cgroup were recorded while it was alive
	flagInFlight  = 1 << 2 // sent data was unacknowledged
	flagQueued    = 1 << 3 // data waited unsent behind the peer's window
)

// record is struct event of trace.c, decoded but not yet interpreted.
type record struct {
	MonoNS       uint64
	Cgroup       uint64
	Inode        uint64
	NetNS        uint32
	PID          uint32
	Comm         [16]byte
	Saddr, Daddr [16]byte
	Sport, Dport uint16
	Family       uint8
	OldState     uint8
	Flags        uint8
	Err, ErrSoft int32
	UserTimeout  uint32 // ms
	KeepIdle     uint32 // jiffies
	KeepIntvl    uint32 // jiffies
	Silent       uint32 // jiffies
	TotalRetrans uint32
	SndWnd       uint32
	KeepCnt      uint8
	Retries2     uint8
	SynRetries   uint8
	Retransmits  uint8
	Probes       uint8
	Backoff      uint8
}

// errShortRecord is returned for a ring-buffer sample that is not one
// whole struct event.
var errShortRecord = errors.New("trace: record is not 128 bytes")

// decodeRecord decodes one struct event, in the host's byte order as the
// program writes it (bpfel or bpfeb, loaded to match the host).
func decodeRecord(b []byte) (record, error) {
	if len(b) != recordSize {
		return record{}, fmt.Errorf("%w (got %d)", errShortRecord, len(b))
	}
	le := binary.NativeEndian // the program writes its records in host order
	var r record
	r.MonoNS = le.Uint64(b[0:])
	r.Cgroup = le.Uint64(b[8:])
	r.Inode = le.Uint64(b[16:])
	r.NetNS = le.Uint32(b[24:])
	r.PID = le.Uint32(b[28:])
	copy(r.Comm[:], b[32:48])
	copy(r.Saddr[:], b[48:64])
	copy(r.Daddr[:], b[64:80])
	r.Sport = le.Uint16(b[80:])
	r.Dport = le.Uint16(b[82:])
	r.Family = b[84]
	r.OldState = b[85]
	r.Flags = b[87]
	r.Err = int32(le.Uint32(b[88:]))
	r.ErrSoft = int32(le.Uint32(b[92:]))
	r.UserTimeout = le.Uint32(b[96:])
	r.KeepIdle = le.Uint32(b[100:])
	r.KeepIntvl = le.Uint32(b[104:])
	r.Silent = le.Uint32(b[108:])
	r.TotalRetrans = le.Uint32(b[112:])
	r.SndWnd = le.Uint32(b[116:])
	r.KeepCnt = b[120]
	r.Retries2 = b[121]
	r.SynRetries = b[122]
	r.Retransmits = b[123]
	r.Probes = b[124]
	r.Backoff = b[125]
	return r, nil
}

// Address families of struct event's family field.
const (
	afInet  = 2
	afInet6 = 10
)

// tcpStates names the kernel's TCP states (include/net/tcp_states.h), as
// ss spells them.
var tcpStates = [...]string{
	1: "established", 2: "syn-sent", 3: "syn-recv", 4: "fin-wait-1", 5: "fin-wait-2",
	6: "time-wait", 7: "close", 8: "close-wait", 9: "last-ack", 10: "listen", 11: "closing",
	12: "new-syn-recv",
}

func stateName(s uint8) string {
	if int(s) < len(tcpStates) && tcpStates[s] != "" {
		return tcpStates[s]
	}
	return fmt.Sprintf("state-%d", s)
}

// clock turns the kernel's monotonic and jiffies readings into wall time
// and durations.
type clock struct {
	// Boot is the wall time at which CLOCK_MONOTONIC read zero.
	Boot time.Time
	// HZ is the kernel's tick rate (CONFIG_HZ); zero means unknown, and
	// durations counted in jiffies are then left zero.
	HZ int
}

func (c clock) jiffies(j uint32) time.Duration { return kernel.JiffiesDuration(c.HZ, int64(j)) }

// event interprets a record: addresses, owner, cause, settings.
func (r record) event(c clock) Event {
	e := Event{
		Time:         c.Boot.Add(time.Duration(r.MonoNS)),
		NetNS:        r.NetNS,
		Inode:        r.Inode,
		Cgroup:       r.Cgroup,
		State:        stateName(r.OldState),
		Errno:        syscall.Errno(max(r.Err, 0)),
		SoftErrno:    syscall.Errno(max(r.ErrSoft, 0)),
		Keepalive:    r.Flags&flagKeepalive != 0,
		KeepIdle:     c.jiffies(r.KeepIdle),
		KeepIntvl:    c.jiffies(r.KeepIntvl),
		KeepCnt:      int(r.KeepCnt),
		UserTimeout:  time.Duration(r.UserTimeout) * time.Millisecond,
		Retries2:     int(r.Retries2),
		SynRetries:   int(r.SynRetries),
		Retransmits:  int(r.Retransmits),
		Probes:       int(r.Probes),
		Backoff:      int(r.Backoff),
		TotalRetrans: r.TotalRetrans,
		SndWnd:       r.SndWnd,
		Silent:       c.jiffies(r.Silent),
	}
	if r.OldState == kernel.TCPSynSent || r.OldState == kernel.TCPSynRecv {
		e.Silent = 0 // never heard from: rcv_tstamp is not a time yet
	}
	if r.Flags&flagOwner != 0 {
		e.PID = int(r.PID)
		n := 0
		for n < len(r.Comm) && r.Comm[n] != 0 {
			n++
		}
		e.Comm = string(r.Comm[:n])
	}
	switch r.Family {
	case afInet:
		e.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r.Saddr[:4])), r.Sport)
		e.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r.Daddr[:4])), r.Dport)
	case afInet6:
		e.Local = netip.AddrPortFrom(netip.AddrFrom16(r.Saddr).Unmap(), r.Sport)
		e.Remote = netip.AddrPortFrom(netip.AddrFrom16(r.Daddr).Unmap(), r.Dport)
	}
	e.Cause, e.Limit = classify(r)
	return e
}

// What ended a timeout death (Event.Limit).
const (
	LimitUserTimeout = "user-timeout"    // TCP_USER_TIMEOUT
	LimitRetries2    = "tcp_retries2"    // net.ipv4.tcp_retries2
	LimitKeepCnt     = "keepcnt"         // TCP_KEEPCNT probes unanswered
	LimitSynRetries  = "tcp_syn_retries" // TCP_SYNCNT or net.ipv4.tcp_syn_retries
)

// classify tells the cause from the errno, the state before CLOSE and what
// was outstanding, and which limit ran out. The kernel purges the write
// queue before the socket reaches CLOSE but leaves its sequence numbers:
// data in flight (unacknowledged) or only queued behind the peer's window,
// with the counters and the window, go to the kernel model's EndedBy, as
// flatline.Diagnose gives it TCP_INFO's.
func classify(r record) (flatline.Cause, string) {
	if c := flatline.ErrnoCause(syscall.Errno(max(r.Err, 0))); c != flatline.CauseKernelTimeout {
		return c, ""
	}
	pick := func(otherwise string) string {
		if r.UserTimeout != 0 {
			return LimitUserTimeout
		}
		return otherwise
	}
	if r.OldState == kernel.TCPSynSent || r.OldState == kernel.TCPSynRecv {
		return flatline.CauseConnectTimeout, pick(LimitSynRetries)
	}
	c := kernel.Conn{
		State:       kernel.TCPClose,
		Timer:       kernel.TimerUnknown,
		SndWnd:      r.SndWnd,
		HasSndWnd:   true,
		Retransmits: r.Retransmits,
		Probes:      r.Probes,
	}
	if r.Flags&flagInFlight != 0 {
		c.Unacked = 1
	}
	if r.Flags&flagQueued != 0 {
		c.Notsent = 1
	}
	switch kernel.EndedBy(c) {
	case kernel.EndedUnacked:
		return flatline.CauseUnacked, pick(LimitRetries2)
	case kernel.EndedClosedWindow:
		return flatline.CauseClosedWindow, pick(LimitRetries2)
	case kernel.EndedKeepalive:
		return flatline.CauseKeepalive, pick(LimitKeepCnt)
	}
	return flatline.CauseKernelTimeout, ""
}
