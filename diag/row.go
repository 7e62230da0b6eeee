package diag

import (
	"net/netip"
	"time"
	"unsafe"

	"github.com/flatline-dev/flatline"
)

// row is a Socket as a scan keeps it: the same values packed (addresses
// as bytes, small counts as bytes), the owners left in the scan's owner
// table and found again by inode, the bound shared by every socket of
// the same settings and state. 200 bytes a socket instead of a Socket's
// 336: 20,000 sockets are 2.7 MB lighter while a report is made and
// written (ScanCompact writes from rows and never holds the Sockets).
type row struct {
	local, remote [16]byte
	lport, rport  uint16
	family        uint8
	state         TCPState
	timer         Timer
	retrans       uint8 // idiag_retrans is one byte on the wire
	shutdown      int8
	local4        bool // the addresses are IPv4 (in their last four bytes)
	remote4       bool
	known, never  bool
	riskKnown     bool
	lostProbes    int32
	expires       uint32
	rqueue        uint32
	wqueue        uint32
	uid           uint32
	owned         int32 // 1 + the socket's group in the scan's owners (attachOwners); 0: no owner
	cookie, inode uint64
	info          *TCPInfo
	settings      *flatline.Settings
	bound         *flatline.Bound // nil: the zero Bound
	optionsErr    error
	traffic       flatline.State
	worst         time.Duration
	lossSeen      float64
	falseKills    float64
	verdict       Verdict
	reason        string
}

// packMsg keeps what inet_diag (or the socket iterator) reported.
func (r *row) packMsg(m *DiagMsg) {
	*r = row{
		family: m.Family, state: m.State, timer: m.Timer, retrans: uint8(min(max(m.Retrans, 0), 255)),
		shutdown: int8(max(min(m.Shutdown, 127), -1)), lostProbes: -1,
		lport: m.Local.Port(), rport: m.Remote.Port(),
		expires: m.Expires, rqueue: m.RQueue, wqueue: m.WQueue, uid: m.UID,
		cookie: m.Cookie, inode: m.Inode, info: m.Info,
	}
	// The kernel reports no IPv6 zone: none is kept.
	r.local, r.remote = m.Local.Addr().As16(), m.Remote.Addr().As16()
	r.local4, r.remote4 = m.Local.Addr().Is4(), m.Remote.Addr().Is4()
}

// msg is what packMsg kept.
func (r *row) msg() DiagMsg {
	addr := func(b [16]byte, is4 bool) netip.Addr {
		if is4 {
			return netip.AddrFrom4([4]byte(b[12:]))
		}
		return netip.AddrFrom16(b)
	}
	return DiagMsg{
		Family: r.family, State: r.state, Timer: r.timer, Retrans: int(r.retrans),
		Local: netip.AddrPortFrom(addr(r.local, r.local4), r.lport), Remote: netip.AddrPortFrom(addr(r.remote, r.remote4), r.rport),
		Cookie: r.cookie, Expires: r.expires, RQueue: r.rqueue, WQueue: r.wqueue, UID: r.uid,
		Inode: r.inode, Info: r.info, Shutdown: int(r.shutdown),
	}
}

// packJudged keeps what the options and the judgement added to s (its
// Bound, through bound: the shared copy of the same value).
func (r *row) packJudged(s *Socket, bound *flatline.Bound) {
	r.settings, r.optionsErr, r.bound = s.Settings, s.OptionsErr, bound
	r.traffic, r.worst, r.known, r.never = s.Traffic, s.Worst, s.Known, s.Never
	r.lostProbes = int32(s.LostProbes)
	r.lossSeen, r.falseKills, r.riskKnown = s.LossSeen, s.FalseKillsPerHour, s.RiskKnown
	r.verdict, r.reason = s.Verdict, s.Reason
}

// socket is the Socket r packs, its owners from own.
func (r *row) socket(s *Socket, own *owners) {
	*s = Socket{
		DiagMsg: r.msg(), Settings: r.settings, OptionsErr: r.optionsErr,
		Traffic: r.traffic, LostProbes: int(r.lostProbes), Worst: r.worst, Never: r.never, Known: r.known,
		LossSeen: r.lossSeen, FalseKillsPerHour: r.falseKills, RiskKnown: r.riskKnown,
		Verdict: r.verdict, Reason: r.reason,
	}
	if r.bound != nil {
		s.Bound = *r.bound
	}
	if own != nil {
		s.Owners = own.ofGroup(r.owned)
	}
}

// attachOwners finds each row's group in own once, by inode, for the
// lookups that follow (the options, the order, every write) to index
// by it instead of hashing the inode again.
func attachOwners(rows []row, own *owners) {
	for i := range rows {
		rows[i].owned = own.groupOf(rows[i].inode)
	}
}

// prefault writes the whole of a fresh array's capacity at once. The
// garbage collector scans an array with pointers to its capacity: run
// while the dump fills it, its reads map the kernel's zero page into the
// untouched pages, and each append's first write to one then takes a
// copy-on-write fault that flushes the other cores' TLBs with an
// interrupt (15 % of a 20,000-socket inspect's CPU in `perf record`).
// Written first, each page takes one ordinary fault. The zeros are
// written as bytes: clear on the array would, while a collection
// runs (a large array's allocation often starts one), read every
// pointer slot for the write barrier first, mapping the zero page
// itself. Writing nil over nil needs no barrier.
func prefault[T any](socks []T) {
	full := socks[:cap(socks)]
	if len(full) == 0 {
		return
	}
	clear(unsafe.Slice((*byte)(unsafe.Pointer(&full[0])), uintptr(len(full))*unsafe.Sizeof(full[0])))
}

// shared returns the copy of b in bounds (made on first sight), nil for
// the zero Bound: the sockets of one settings and state share one.
func shared(bounds map[flatline.Bound]*flatline.Bound, b flatline.Bound) *flatline.Bound {
	if b == (flatline.Bound{}) {
		return nil
	}
	p, ok := bounds[b]
	if !ok {
		p = new(flatline.Bound) // not &b: b would escape, a copy on every call
		*p = b
		bounds[b] = p
	}
	return p
}
