package trace

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/google/go-cmp/cmp"
)

// rec builds a raw struct event.
type rec struct {
	family           uint8
	saddr, daddr     []byte
	sport, dport     uint16
	state, flags     uint8
	err, errSoft     int32
	userTimeout      uint32
	idle, intvl      uint32
	silent           uint32
	sndWnd           uint32
	cnt, retrans, pr uint8
	pid              uint32
	comm             string
}

func (r rec) bytes() []byte {
	b := make([]byte, recordSize)
	le := binary.NativeEndian
	le.PutUint64(b[0:], uint64(5*time.Second))
	le.PutUint64(b[8:], 77)
	le.PutUint64(b[16:], 4242)
	le.PutUint32(b[24:], 4026531840)
	le.PutUint32(b[28:], r.pid)
	copy(b[32:48], r.comm)
	copy(b[48:64], r.saddr)
	copy(b[64:80], r.daddr)
	le.PutUint16(b[80:], r.sport)
	le.PutUint16(b[82:], r.dport)
	b[84], b[85], b[87] = r.family, r.state, r.flags
	le.PutUint32(b[88:], uint32(r.err))
	le.PutUint32(b[92:], uint32(r.errSoft))
	le.PutUint32(b[96:], r.userTimeout)
	le.PutUint32(b[100:], r.idle)
	le.PutUint32(b[104:], r.intvl)
	le.PutUint32(b[108:], r.silent)
	le.PutUint32(b[116:], r.sndWnd)
	b[120], b[121], b[122], b[123], b[124] = r.cnt, 15, 6, r.retrans, r.pr
	return b
}

func TestDecode(t *testing.T) {
	v4 := []byte{198, 18, 1, 2}
	v4b := []byte{198, 18, 2, 2}
	v6 := netip.MustParseAddr("2001:db8::1").As16()
	v6b := netip.MustParseAddr("2001:db8::2").As16()
	boot := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := clock{Boot: boot, HZ: 250}
	base := Event{
		Time: boot.Add(5 * time.Second), NetNS: 4026531840, Cgroup: 77, Inode: 4242,
		Local: netip.MustParseAddrPort("198.18.1.2:40000"), Remote: netip.MustParseAddrPort("198.18.2.2:5432"),
		State: "established", Errno: syscall.ETIMEDOUT, Retries2: 15, SynRetries: 6,
	}
	tests := []struct {
		name string
		in   rec
		want func(e *Event)
	}{
		{
			name: "keepalive, owner known",
			in:   rec{family: afInet, saddr: v4, daddr: v4b, sport: 40000, dport: 5432, state: 1, flags: flagKeepalive | flagOwner, err: 110, idle: 250, intvl: 250, cnt: 2, pr: 2, silent: 750, sndWnd: 65535, pid: 99, comm: "psql"},
			want: func(e *Event) {
				e.Cause, e.Limit = flatline.CauseKeepalive, LimitKeepCnt
				e.Keepalive, e.KeepIdle, e.KeepIntvl, e.KeepCnt, e.Probes = true, time.Second, time.Second, 2, 2
				e.Silent, e.SndWnd, e.PID, e.Comm = 3*time.Second, 65535, 99, "psql"
			},
		},
		{
			name: "keepalive under a user timeout",
			in:   rec{family: afInet, saddr: v4, daddr: v4b, sport: 40000, dport: 5432, state: 1, flags: flagKeepalive, err: 110, userTimeout: 4000, pr: 3, sndWnd: 1},
			want: func(e *Event) {
				e.Cause, e.Limit, e.Keepalive, e.UserTimeout, e.Probes, e.SndWnd = flatline.CauseKeepalive, LimitUserTimeout, true, 4*time.Second, 3, 1
			},
		},
		{
			name: "unacked data by tcp_retries2, owner not recorded",
			in:   rec{family: afInet, saddr: v4, daddr: v4b, sport: 40000, dport: 5432, state: 1, flags: flagInFlight, err: 110, retrans: 15, pid: 99, comm: "ignored"},
			want: func(e *Event) { e.Cause, e.Limit, e.Retransmits = flatline.CauseUnacked, LimitRetries2, 15 },
		},
		{
			name: "closed window",
			in:   rec{family: afInet, saddr: v4, daddr: v4b, sport: 40000, dport: 5432, state: 1, flags: flagQueued, err: 110, userTimeout: 2000},
			want: func(e *Event) {
				e.Cause, e.Limit, e.UserTimeout = flatline.CauseClosedWindow, LimitUserTimeout, 2*time.Second
			},
		},
		{
			name: "reset over IPv6",
			in:   rec{family: afInet6, saddr: v6[:], daddr: v6b[:], sport: 1, dport: 2, state: 8, err: 32},
			want: func(e *Event) {
				e.Local, e.Remote = netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("[2001:db8::2]:2")
				e.State, e.Errno, e.Cause = "close-wait", syscall.EPIPE, flatline.CauseReset
			},
		},
		{
			name: "connect timeout after an ICMP error",
			in:   rec{family: afInet, saddr: v4, daddr: v4b, sport: 40000, dport: 5432, state: 2, err: 113, errSoft: 113, silent: 9999, retrans: 6},
			want: func(e *Event) {
				e.State, e.Errno, e.SoftErrno, e.Cause, e.Retransmits = "syn-sent", syscall.EHOSTUNREACH, syscall.EHOSTUNREACH, flatline.CauseUnreachable, 6
			},
		},
		{
			name: "SYNs unanswered",
			in:   rec{family: afInet, saddr: v4, daddr: v4b, sport: 40000, dport: 5432, state: 2, err: 110, retrans: 6},
			want: func(e *Event) {
				e.State, e.Cause, e.Limit, e.Retransmits = "syn-sent", flatline.CauseConnectTimeout, LimitSynRetries, 6
			},
		},
		{
			name: "timeout with nothing to tell",
			in:   rec{family: afInet, saddr: v4, daddr: v4b, sport: 40000, dport: 5432, state: 1, err: 110, sndWnd: 5},
			want: func(e *Event) { e.Cause, e.SndWnd = flatline.CauseKernelTimeout, 5 },
		},
		{
			name: "aborted, unknown family",
			in:   rec{family: 99, state: 42, err: 103},
			want: func(e *Event) {
				e.Local, e.Remote = netip.AddrPort{}, netip.AddrPort{}
				e.State, e.Errno, e.Cause = "state-42", syscall.ECONNABORTED, flatline.CauseAborted
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := decodeRecord(tt.in.bytes())
			if err != nil {
				t.Fatal(err)
			}
			want := base
			tt.want(&want)
			if diff := cmp.Diff(want, r.event(c), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeShort(t *testing.T) {
	for _, n := range []int{0, 1, recordSize - 1, recordSize + 1} {
		if _, err := decodeRecord(make([]byte, n)); !errors.Is(err, errShortRecord) {
			t.Errorf("%d bytes: err %v, want errShortRecord", n, err)
		}
	}
}

func TestUnknownHZ(t *testing.T) {
	r, _ := decodeRecord(rec{family: afInet, idle: 250, silent: 10}.bytes())
	if e := r.event(clock{}); e.KeepIdle != 0 || e.Silent != 0 {
		t.Errorf("HZ unknown: idle %v silent %v, want 0", e.KeepIdle, e.Silent)
	}
}

// FuzzDecode feeds the decoder arbitrary samples: it must not panic, must
// reject every sample that is not one struct event, and must turn every
// record into an event with a cause.
func FuzzDecode(f *testing.F) {
	f.Add(rec{family: afInet, saddr: []byte{1, 2, 3, 4}, state: 1, flags: flagInFlight, err: 110}.bytes())
	f.Add(rec{family: afInet6, state: 2, err: 111}.bytes())
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if len(b) != recordSize {
			if err == nil {
				t.Fatalf("%d bytes accepted", len(b))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		e := r.event(clock{HZ: 1000})
		if e.Cause.String() == "" || e.State == "" {
			t.Fatalf("event without cause or state: %+v", e)
		}
		if _, err := e.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
	})
}
