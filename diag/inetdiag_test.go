package diag

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var ne = binary.NativeEndian

// tcpInfoBytes builds a struct tcp_info of n bytes with the fields the
// decoder reads.
func tcpInfoBytes(n int, ti TCPInfo) []byte {
	b := make([]byte, n)
	b[tcpiState] = byte(ti.State)
	b[tcpiRetransmits] = byte(ti.Retransmits)
	b[tcpiProbes] = byte(ti.Probes)
	b[tcpiBackoff] = byte(ti.Backoff)
	put := func(off int, v uint32) {
		if off+4 <= n {
			ne.PutUint32(b[off:], v)
		}
	}
	put(tcpiRTO, ti.RTO)
	put(tcpiUnacked, ti.Unacked)
	put(tcpiLastDataSent, ti.LastDataSent)
	put(tcpiLastAckSent, ti.LastAckSent)
	put(tcpiLastDataRecv, ti.LastDataRecv)
	put(tcpiLastAckRecv, ti.LastAckRecv)
	put(tcpiTotalRetrans, ti.TotalRetrans)
	put(tcpiSegsOut, ti.SegsOut)
	put(tcpiNotsent, ti.NotsentBytes)
	put(tcpiSndWnd, ti.SndWnd)
	return b
}

func TestDecodeTCPInfo(t *testing.T) {
	full := TCPInfo{
		State: StateEstablished, Retransmits: 3, Probes: 2, Backoff: 4, RTO: 3_200_000, Unacked: 7,
		LastDataSent: 10, LastDataRecv: 20, LastAckRecv: 30, TotalRetrans: 9, NotsentBytes: 100,
		SndWnd: 65535, HasSndWnd: true, SegsOut: 900, HasSegsOut: true,
	}
	old := full
	old.NotsentBytes, old.SndWnd, old.HasSndWnd = 0, 0, false
	old.SegsOut, old.HasSegsOut = 0, false
	mid := full
	mid.SndWnd, mid.HasSndWnd = 0, false
	tests := []struct {
		name    string
		in      []byte
		want    TCPInfo
		wantErr bool
	}{
		{"6.x length", tcpInfoBytes(280, full), full, false},
		{"through snd_wnd", tcpInfoBytes(tcpiSndWnd+4, full), full, false},
		{"4.x length, no snd_wnd", tcpInfoBytes(tcpiSndWnd, full), mid, false},
		{"2.6 length", tcpInfoBytes(tcpiMinLen, full), old, false},
		{"short", tcpInfoBytes(tcpiMinLen-1, full), TCPInfo{}, true},
		{"empty", nil, TCPInfo{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeTCPInfo(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want it to match ErrMalformed", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeTCPInfo (-want +got):\n%s", diff)
			}
		})
	}
}

// diagMsgBytes builds an inet_diag_msg for m followed by attrs.
func diagMsgBytes(m DiagMsg, attrs ...[]byte) []byte {
	b := make([]byte, inetDiagMsgLen)
	b[0], b[1], b[2], b[3] = m.Family, byte(m.State), byte(m.Timer), byte(m.Retrans)
	binary.BigEndian.PutUint16(b[4:], m.Local.Port())
	binary.BigEndian.PutUint16(b[6:], m.Remote.Port())
	if m.Local.Addr().Is4() {
		a, r := m.Local.Addr().As4(), m.Remote.Addr().As4()
		copy(b[8:], a[:])
		copy(b[24:], r[:])
	} else {
		a, r := m.Local.Addr().As16(), m.Remote.Addr().As16()
		copy(b[8:], a[:])
		copy(b[24:], r[:])
	}
	ne.PutUint32(b[44:], uint32(m.Cookie))
	ne.PutUint32(b[48:], uint32(m.Cookie>>32))
	ne.PutUint32(b[52:], m.Expires)
	ne.PutUint32(b[56:], m.RQueue)
	ne.PutUint32(b[60:], m.WQueue)
	ne.PutUint32(b[64:], m.UID)
	ne.PutUint32(b[68:], uint32(m.Inode))
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

func rtattr(typ uint16, val []byte) []byte {
	b := make([]byte, 4, 4+len(val)+3)
	ne.PutUint16(b, uint16(4+len(val)))
	ne.PutUint16(b[2:], typ)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestDecodeDiagMsg(t *testing.T) {
	info := TCPInfo{State: StateEstablished, Retransmits: 2, Unacked: 1, RTO: 204000, SndWnd: 1000, HasSndWnd: true, HasSegsOut: true}
	v4 := DiagMsg{
		Family: afInet, State: StateEstablished, Timer: TimerOn, Retrans: 2,
		Local:  netip.MustParseAddrPort("10.0.0.1:40000"),
		Remote: netip.MustParseAddrPort("10.0.0.2:80"),
		Cookie: 0x1122334455667788, Expires: 180, WQueue: 5, UID: 1000, Inode: 4242, Shutdown: -1,
	}
	v4info := v4
	v4info.Info = &info
	v4info.Shutdown = 0
	v6 := DiagMsg{
		Family: afInet6, State: StateSynSent, Timer: TimerOn, Retrans: 1,
		Local:  netip.MustParseAddrPort("[fd00::1]:5000"),
		Remote: netip.MustParseAddrPort("[fd00::2]:443"),
		Inode:  7, Shutdown: -1,
	}
	badLen := diagMsgBytes(v4)
	badLen = append(badLen, 0xff, 0x00, 2, 0) // rtattr claims 255 bytes
	badFam := diagMsgBytes(v4)
	badFam[0] = 7
	tests := []struct {
		name    string
		in      []byte
		want    DiagMsg
		wantErr bool
	}{
		{"ipv4 no attrs", diagMsgBytes(v4), v4, false},
		{"ipv4 tcp_info and shutdown", diagMsgBytes(v4, rtattr(1, []byte{1, 2, 3}), rtattr(inetDiagInfo, tcpInfoBytes(232, info)), rtattr(inetDiagShutdwn, []byte{0})), v4info, false},
		{"ipv6", diagMsgBytes(v6), v6, false},
		{"trailing bytes shorter than an attr", append(diagMsgBytes(v6), 0, 0), v6, false},
		{"short", diagMsgBytes(v4)[:inetDiagMsgLen-1], DiagMsg{}, true},
		{"bad family", badFam, DiagMsg{}, true},
		{"attr past end", badLen, DiagMsg{}, true},
		{"short tcp_info", diagMsgBytes(v4, rtattr(inetDiagInfo, make([]byte, 40))), DiagMsg{}, true},
		{"empty shutdown", diagMsgBytes(v4, rtattr(inetDiagShutdwn, nil)), DiagMsg{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeDiagMsg(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want it to match ErrMalformed", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("DecodeDiagMsg (-want +got):\n%s", diff)
			}
		})
	}
}

// nlmsg builds one netlink message.
func nlmsg(typ, flags uint16, seq uint32, payload []byte) []byte {
	b := make([]byte, nlmsgHdrLen, nlmsgHdrLen+len(payload)+3)
	ne.PutUint32(b, uint32(nlmsgHdrLen+len(payload)))
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], seq)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestDumpParser(t *testing.T) {
	a := DiagMsg{Family: afInet, State: StateEstablished, Local: netip.MustParseAddrPort("127.0.0.1:1"), Remote: netip.MustParseAddrPort("127.0.0.1:2"), Inode: 1, Shutdown: -1}
	b := a
	b.Inode = 2
	errPayload := make([]byte, 20)
	ne.PutUint32(errPayload, uint32(0xffffffff-13+1)) // -EACCES
	type result struct {
		Socks       []uint64
		Errno       int32
		Done        bool
		Interrupted bool
		Err         bool
	}
	tests := []struct {
		name  string
		feeds [][]byte
		want  result
	}{
		{"two then done", [][]byte{concat(nlmsg(sockDiagByFam, 2, 5, diagMsgBytes(a)), nlmsg(sockDiagByFam, 2, 5, diagMsgBytes(b))), nlmsg(nlmsgDone, 2, 5, make([]byte, 4))},
			result{Socks: []uint64{1, 2}, Done: true}},
		{"other sequence ignored", [][]byte{concat(nlmsg(sockDiagByFam, 2, 4, diagMsgBytes(a)), nlmsg(sockDiagByFam, 2, 5, diagMsgBytes(b)), nlmsg(nlmsgDone, 2, 5, nil))},
			result{Socks: []uint64{2}, Done: true}},
		{"interrupted", [][]byte{concat(nlmsg(sockDiagByFam, 2|nlmFDumpIntr, 5, diagMsgBytes(a)), nlmsg(nlmsgDone, 2|nlmFDumpIntr, 5, nil))},
			result{Socks: []uint64{1}, Done: true, Interrupted: true}},
		{"kernel error", [][]byte{nlmsg(nlmsgError, 0, 5, errPayload)}, result{Errno: 13, Done: true}},
		{"ack is not an error", [][]byte{nlmsg(nlmsgError, 0, 5, make([]byte, 20))}, result{}},
		{"truncated header", [][]byte{nlmsg(sockDiagByFam, 2, 5, diagMsgBytes(a))[:10]}, result{Err: true}},
		{"length past buffer", [][]byte{nlmsg(sockDiagByFam, 2, 5, diagMsgBytes(a))[:40]}, result{Err: true}},
		{"short error", [][]byte{nlmsg(nlmsgError, 0, 5, []byte{1})}, result{Err: true}},
		{"nothing after done", [][]byte{concat(nlmsg(nlmsgDone, 2, 5, nil), nlmsg(sockDiagByFam, 2, 5, diagMsgBytes(a)))}, result{Done: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DumpParser{Seq: 5}
			var got result
			for _, f := range tt.feeds {
				errno, err := p.Feed(f, func(m DiagMsg) error {
					got.Socks = append(got.Socks, m.Inode)
					return nil
				})
				if err != nil {
					if !errors.Is(err, ErrMalformed) {
						t.Errorf("err = %v, want it to match ErrMalformed", err)
					}
					got.Err = true
					break
				}
				if errno != 0 {
					got.Errno = errno
				}
			}
			got.Done, got.Interrupted = p.Done, p.Interrupted
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DumpParser (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeDiagRequest(t *testing.T) {
	b := encodeDiagRequest(9, afInet6, DefaultStates)
	got := struct {
		Len, Seq, States uint32
		Type, Flags      uint16
		Family, Proto    byte
		Ext              byte
	}{ne.Uint32(b), ne.Uint32(b[8:]), ne.Uint32(b[20:]), ne.Uint16(b[4:]), ne.Uint16(b[6:]), b[16], b[17], b[18]}
	want := got
	want.Len, want.Seq, want.States, want.Type, want.Flags, want.Family, want.Proto, want.Ext = 72, 9, DefaultStates, 20, 0x301, afInet6, 6, 2
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if DefaultStates&(1<<StateEstablished) == 0 || DefaultStates&(1<<StateListen) != 0 || DefaultStates&(1<<StateTimeWait) != 0 {
		t.Errorf("DefaultStates = %#x: want ESTAB in, LISTEN and TIME-WAIT out", DefaultStates)
	}
}

func TestParseSocketLink(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[0]", 0, true},
		{"socket:[18446744073709551615]", 18446744073709551615, true},
		{"socket:[]", 0, false},
		{"socket:[+1]", 0, false},
		{"socket:[12", 0, false},
		{"pipe:[12]", 0, false},
		{"anon_inode:[eventpoll]", 0, false},
		{"/dev/null", 0, false},
		{"socket:[18446744073709551616]", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseSocketLink(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseSocketLink(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzDecodeDiagMsg(f *testing.F) {
	f.Add(diagMsgBytes(DiagMsg{Family: afInet, State: StateEstablished, Local: netip.MustParseAddrPort("1.2.3.4:5"), Remote: netip.MustParseAddrPort("5.6.7.8:9")},
		rtattr(inetDiagInfo, tcpInfoBytes(232, TCPInfo{Unacked: 1}))))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeDiagMsg(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		if m.Family != afInet && m.Family != afInet6 {
			t.Fatalf("decoded family %d", m.Family)
		}
	})
}

func FuzzDumpParser(f *testing.F) {
	f.Add(concat(nlmsg(sockDiagByFam, 2, 1, diagMsgBytes(DiagMsg{Family: afInet6, Local: netip.MustParseAddrPort("[::1]:1"), Remote: netip.MustParseAddrPort("[::1]:2")})), nlmsg(nlmsgDone, 2, 1, nil)))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := DumpParser{Seq: 1}
		_, err := p.Feed(b, func(DiagMsg) error { return nil })
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not match ErrMalformed", err)
		}
	})
}

func FuzzParseSocketLink(f *testing.F) {
	f.Add("socket:[123]")
	f.Fuzz(func(t *testing.T, s string) {
		ino, ok := ParseSocketLink(s)
		if !ok && ino != 0 {
			t.Fatalf("ParseSocketLink(%q) = %d, false", s, ino)
		}
	})
}
