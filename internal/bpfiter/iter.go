// Package bpfiter reads every TCP socket's dead-peer settings in the kernel
// with a BPF iterator over TCP sockets (iter/tcp, Linux 5.9 with BTF): the
// values getsockopt would return (SO_KEEPALIVE, TCP_KEEPIDLE,
// TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT, TCP_SYNCNT), keyed by the
// socket's inode, for sockets of any process, without ptrace permission or
// the process's descriptors; and, with a second iterator over every
// process's descriptors (iter/task_file), which process holds each TCP
// socket, without a readlink of /proc/PID/fd each. flatline inspect uses
// them where the kernel allows, and falls back on pidfd_getfd and /proc.
//
// The program is iter.c, compiled by bpf2go (gen.go) against trace's
// minimal vmlinux.h; the generated iter_bpfel.go and iter_bpfel.o are
// committed.
package bpfiter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// MinKernel is the oldest kernel the iterator runs on: iter/tcp and
// bpf_skc_to_tcp_sock came in 5.9.
const MinKernel = "Linux 5.9 with BTF (CONFIG_DEBUG_INFO_BTF)"

// Socket is one TCP socket as the iterator read it.
type Socket struct {
	Inode      uint64 // socket:[Inode]; 0 when no file holds it
	Family     uint8  // AF_INET or AF_INET6
	State      uint8  // TCP state (include/net/tcp_states.h)
	LocalPort  uint16
	RemotePort uint16
	// Settings are what getsockopt returns on the socket: the socket's own
	// values or its namespace's sysctls, keepalive times in whole seconds.
	Settings flatline.Settings
}

// recSize is the size of struct rec in iter.c.
const recSize = 136

// raw is struct rec of iter.c, before the jiffies are converted.
type raw struct {
	Inode                                   uint64
	KeepIdle, KeepIntvl, UserTimeout, NetKA uint32
	Sport, Dport                            uint16
	Family, State, KeepCnt, SynCnt          uint8
	KeepAlive                               bool
}

var errRecord = errors.New("bpfiter: iterator output is not a whole number of records")

// decodeRaw splits the iterator's output into records.
func decodeRaw(b []byte) ([]raw, error) {
	if len(b)%recSize != 0 {
		return nil, fmt.Errorf("%w (%d bytes, records of %d)", errRecord, len(b), recSize)
	}
	out := make([]raw, 0, len(b)/recSize)
	for ; len(b) > 0; b = b[recSize:] {
		out = append(out, rawAt(b))
	}
	return out, nil
}

// rawAt decodes the record at the start of b (at least recSize bytes).
func rawAt(b []byte) raw {
	le := binary.NativeEndian // the program writes its records in host order
	return raw{
		Inode:       le.Uint64(b[0:]),
		KeepIdle:    le.Uint32(b[8:]),
		KeepIntvl:   le.Uint32(b[12:]),
		UserTimeout: le.Uint32(b[16:]),
		NetKA:       le.Uint32(b[20:]),
		Sport:       le.Uint16(b[24:]),
		Dport:       le.Uint16(b[26:]),
		Family:      b[28],
		State:       b[29],
		KeepCnt:     b[30],
		SynCnt:      b[31],
		KeepAlive:   b[32] != 0,
	}
}

var errHZ = errors.New("bpfiter: kernel tick rate (HZ) unknown: cannot turn keepalive jiffies into seconds")

// hzOf returns hz when known, else the kernel model's reading of the
// namespace's tcp_keepalive_time in jiffies (from the records) against the
// same sysctl in seconds (read from /proc/sys by the caller).
func hzOf(hz int, recs []raw, sysctlKeepalive time.Duration) (int, error) {
	if hz > 0 {
		return hz, nil
	}
	if len(recs) == 0 {
		return 0, errHZ
	}
	hz, err := kernel.HZFromKeepaliveTime(int64(recs[0].NetKA), sysctlKeepalive)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errHZ, err)
	}
	return hz, nil
}

// decode turns the iterator's output into sockets; host gives HZ (or the
// namespace's tcp_keepalive_time to derive it).
func decode(b []byte, host flatline.Host) ([]Socket, error) {
	if len(b)%recSize != 0 {
		return nil, fmt.Errorf("%w (%d bytes, records of %d)", errRecord, len(b), recSize)
	}
	return decodeAppend(nil, b, host)
}

// decodeAppend appends the sockets of whole records b to out.
func decodeAppend(out []Socket, b []byte, host flatline.Host) ([]Socket, error) {
	if len(b) < recSize {
		return out, nil
	}
	hz, err := hzOf(host.HZ, []raw{rawAt(b)}, host.KeepaliveTime)
	if err != nil {
		return nil, err
	}
	for ; len(b) >= recSize; b = b[recSize:] {
		r := rawAt(b)
		out = append(out, Socket{
			Inode: r.Inode, Family: r.Family, State: r.State, LocalPort: r.Sport, RemotePort: r.Dport,
			Settings: settingsOf(r, hz),
		})
	}
	return out, nil
}

// settingsOf is what getsockopt would read on the record's socket.
func settingsOf(r raw, hz int) flatline.Settings {
	return flatline.Settings{
		KeepAlive:   r.KeepAlive,
		Idle:        kernel.KeepaliveSeconds(hz, int64(r.KeepIdle)),
		Interval:    kernel.KeepaliveSeconds(hz, int64(r.KeepIntvl)),
		Count:       int(r.KeepCnt),
		UserTimeout: time.Duration(r.UserTimeout) * time.Millisecond,
		SynCount:    int(r.SynCnt),
	}
}

// Index is the sockets the iterator read, by inode (those without one
// left out): each socket's number and settings. The settings are kept
// once per distinct value (a namespace's sockets share a handful), so
// 20,000 sockets cost a map entry and four bytes each.
type Index struct {
	pos      map[uint64]int32 // inode → socket number
	set      []int32          // socket number → its settings in distinct
	distinct []flatline.Settings
	ids      map[flatline.Settings]int32 // distinct's positions
}

// NewIndex returns an empty index sized for hint sockets.
func NewIndex(hint int) *Index {
	hint = max(hint, 0)
	return &Index{pos: make(map[uint64]int32, hint), set: make([]int32, 0, hint), ids: make(map[flatline.Settings]int32)}
}

// add indexes one socket and returns its number and whether it is new;
// a repeated inode keeps its first reading, and a socket without one is
// not indexed (-1, new).
func (x *Index) add(inode uint64, s flatline.Settings) (int32, bool) {
	if inode == 0 {
		return -1, true
	}
	if n, dup := x.pos[inode]; dup {
		return n, false
	}
	id, ok := x.ids[s]
	if !ok {
		id = int32(len(x.distinct))
		x.distinct = append(x.distinct, s)
		x.ids[s] = id
	}
	n := int32(len(x.set))
	x.pos[inode] = n
	x.set = append(x.set, id)
	return n, true
}

// addRecords indexes the sockets of whole records b.
func (x *Index) addRecords(b []byte, host flatline.Host) error {
	if len(b) < recSize {
		return nil
	}
	hz, err := hzOf(host.HZ, []raw{rawAt(b)}, host.KeepaliveTime)
	if err != nil {
		return err
	}
	for ; len(b) >= recSize; b = b[recSize:] {
		r := rawAt(b)
		x.add(r.Inode, settingsOf(r, hz))
	}
	return nil
}

// Positions is the map of inodes to socket numbers: not to be modified.
func (x *Index) Positions() map[uint64]int32 { return x.pos }

// Len is how many sockets the index holds (none in a nil Index).
func (x *Index) Len() int {
	if x == nil {
		return 0
	}
	return len(x.set)
}

// Lookup returns the number (0 to Len()-1) and settings of the socket
// with inode ino. The settings are shared by every socket that has the
// same: not to be modified.
func (x *Index) Lookup(ino uint64) (n int32, s *flatline.Settings, ok bool) {
	n, ok = x.pos[ino]
	if !ok {
		return 0, nil, false
	}
	return n, &x.distinct[x.set[n]], true
}

// Conn is what inet_diag would report of a socket (inet_sk_diag_fill and
// tcp_get_info), as the iterator read it: the second part of struct rec,
// its times turned from jiffies into what those report.
type Conn struct {
	Inode, Cookie uint64 // Cookie: 0 until something asked the kernel for one
	Family, State uint8
	Local, Remote netip.AddrPort
	Timer         uint8  // idiag_timer
	Retrans       uint8  // idiag_retrans
	Expires       uint32 // idiag_expires: ms until the timer fires, 0 when due or none
	RQueue        uint32
	WQueue        uint32
	UID           uint32
	Shutdown      uint8
	// tcp_info's
	Retransmits, Probes, Backoff            uint8
	RTO                                     uint32 // µs
	LastDataSent, LastDataRecv, LastAckRecv uint32 // ms
	Unacked, TotalRetrans, SegsOut          uint32
	NotsentBytes, SndWnd                    uint32
}

// connAt decodes the inet_diag part of the record at the start of b (at
// least recSize bytes) at hz.
func connAt(b []byte, hz int) Conn {
	ne := binary.NativeEndian
	c := Conn{
		Inode: ne.Uint64(b[0:]), Family: b[28], State: b[29],
		Timer: b[33], Retrans: b[34], Retransmits: b[35], Probes: b[36], Backoff: b[37], Shutdown: b[38],
		Cookie:       ne.Uint64(b[40:]),
		RTO:          kernel.JiffiesToUsecs(hz, uint64(ne.Uint32(b[84:]))),
		LastDataSent: kernel.JiffiesToMsecs(hz, uint64(ne.Uint32(b[88:]))),
		LastDataRecv: kernel.JiffiesToMsecs(hz, uint64(ne.Uint32(b[92:]))),
		LastAckRecv:  kernel.JiffiesToMsecs(hz, uint64(ne.Uint32(b[96:]))),
		RQueue:       ne.Uint32(b[100:]), WQueue: ne.Uint32(b[104:]),
		Unacked: ne.Uint32(b[108:]), TotalRetrans: ne.Uint32(b[112:]), SegsOut: ne.Uint32(b[116:]),
		NotsentBytes: ne.Uint32(b[120:]), SndWnd: ne.Uint32(b[124:]), UID: ne.Uint32(b[128:]),
	}
	if c.Timer != 0 {
		if d := int32(ne.Uint32(b[80:])); d > 0 {
			c.Expires = kernel.JiffiesToMsecs(hz, uint64(d))
		}
	}
	sport, dport := ne.Uint16(b[24:]), ne.Uint16(b[26:])
	if c.Family == afInet {
		c.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[48:52])), sport)
		c.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[64:68])), dport)
	} else {
		c.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[48:64])), sport)
		c.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[64:80])), dport)
	}
	return c
}

// afInet is AF_INET.
const afInet = 2

// addConns indexes the sockets of whole records b, as addRecords does,
// and hands each (with its number and shared settings) to fn, once: a
// socket the walk meets again is skipped. The Conn is valid only during
// the call: fn copies what it keeps.
func (x *Index) addConns(b []byte, host flatline.Host, fn func(n int32, c *Conn, s *flatline.Settings)) error {
	if len(b) < recSize {
		return nil
	}
	hz, err := hzOf(host.HZ, []raw{rawAt(b)}, host.KeepaliveTime)
	if err != nil {
		return err
	}
	var c Conn // one for all: handed by pointer, a Conn a socket would escape (3 MB at 20,000)
	for ; len(b) >= recSize; b = b[recSize:] {
		r := rawAt(b)
		n, fresh := x.add(r.Inode, settingsOf(r, hz))
		if !fresh {
			continue // met again while the table changed under the walk
		}
		c = connAt(b, hz)
		var set *flatline.Settings
		if n >= 0 {
			set = &x.distinct[x.set[n]]
		}
		fn(n, &c, set)
	}
	return nil
}
