package bpfiter

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/google/go-cmp/cmp"
)

type rec struct {
	inode                              uint64
	idle, intvl, ut, netKA             uint32
	sport, dport                       uint16
	family, state, cnt, syn, keepalive uint8
}

func (r rec) bytes() []byte {
	b := make([]byte, recSize)
	le := binary.NativeEndian
	le.PutUint64(b[0:], r.inode)
	le.PutUint32(b[8:], r.idle)
	le.PutUint32(b[12:], r.intvl)
	le.PutUint32(b[16:], r.ut)
	le.PutUint32(b[20:], r.netKA)
	le.PutUint16(b[24:], r.sport)
	le.PutUint16(b[26:], r.dport)
	b[28], b[29], b[30], b[31], b[32] = r.family, r.state, r.cnt, r.syn, r.keepalive
	return b
}

func TestDecode(t *testing.T) {
	two := append(rec{inode: 7, idle: 2000, intvl: 250, ut: 4600, netKA: 1800000, sport: 5432, dport: 40000, family: 2, state: 1, cnt: 3, syn: 6, keepalive: 1}.bytes(),
		rec{inode: 8, idle: 1800000, intvl: 18750, netKA: 1800000, family: 10, state: 10, cnt: 9, syn: 6}.bytes()...)
	tests := []struct {
		name string
		in   []byte
		host flatline.Host
		want []Socket
		err  error
	}{
		{name: "empty", in: nil, want: nil},
		{
			name: "HZ known", in: two, host: flatline.Host{HZ: 250},
			want: []Socket{
				{Inode: 7, Family: 2, State: 1, LocalPort: 5432, RemotePort: 40000, Settings: flatline.Settings{KeepAlive: true, Idle: 8 * time.Second, Interval: time.Second, Count: 3, UserTimeout: 4600 * time.Millisecond, SynCount: 6}},
				{Inode: 8, Family: 10, State: 10, Settings: flatline.Settings{Idle: 7200 * time.Second, Interval: 75 * time.Second, Count: 9, SynCount: 6}},
			},
		},
		{
			name: "HZ from tcp_keepalive_time", in: two[:recSize], host: flatline.Host{KeepaliveTime: 7200 * time.Second},
			want: []Socket{{Inode: 7, Family: 2, State: 1, LocalPort: 5432, RemotePort: 40000, Settings: flatline.Settings{KeepAlive: true, Idle: 8 * time.Second, Interval: time.Second, Count: 3, UserTimeout: 4600 * time.Millisecond, SynCount: 6}}},
		},
		{name: "HZ unknown", in: two, host: flatline.Host{}, err: errHZ},
		{name: "HZ not a whole ratio", in: two, host: flatline.Host{KeepaliveTime: 7 * time.Second}, err: errHZ},
		{name: "torn record", in: two[:recSize+3], host: flatline.Host{HZ: 250}, err: errRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(tt.in, tt.host)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDecode: arbitrary iterator output never panics, and a decoded socket
// never has negative settings.
func FuzzDecode(f *testing.F) {
	f.Add(rec{inode: 7, idle: 2000, netKA: 1800000, family: 2, state: 1, keepalive: 1}.bytes(), 250, int64(0))
	f.Add([]byte{1, 2, 3}, 0, int64(7200))
	f.Fuzz(func(t *testing.T, b []byte, hz int, ka int64) {
		socks, err := decode(b, flatline.Host{HZ: hz % 10000, KeepaliveTime: time.Duration(ka) * time.Second})
		if err != nil {
			return
		}
		if len(socks) != len(b)/recSize {
			t.Fatalf("%d sockets from %d bytes", len(socks), len(b))
		}
		for _, s := range socks {
			if s.Settings.Idle < 0 || s.Settings.Interval < 0 || s.Settings.UserTimeout < 0 {
				t.Fatalf("negative settings %+v", s.Settings)
			}
		}
	})
}

// TestIndex: sockets are found by inode, those without one are left out,
// a repeated inode keeps its first reading, and equal settings are kept
// once (the pointers are the same).
func TestIndex(t *testing.T) {
	b := append(rec{inode: 7, idle: 2000, intvl: 250, cnt: 3, keepalive: 1}.bytes(),
		rec{inode: 9, idle: 2000, intvl: 250, cnt: 3, keepalive: 1}.bytes()...)
	b = append(b, rec{inode: 0, idle: 500}.bytes()...)
	b = append(b, rec{inode: 7, idle: 750}.bytes()...)
	b = append(b, rec{inode: 11, idle: 1800000, intvl: 18750, cnt: 9}.bytes()...)
	x := NewIndex(2)
	if err := x.addRecords(b[:recSize+3], flatline.Host{HZ: 250}); err != nil {
		t.Fatal(err) // only whole records: the torn one is the caller's
	}
	x = NewIndex(2)
	if err := x.addRecords(b, flatline.Host{HZ: 250}); err != nil {
		t.Fatal(err)
	}
	if x.Len() != 3 {
		t.Fatalf("Len %d, want 3 (inode 0 left out, inode 7 once)", x.Len())
	}
	n7, s7, ok7 := x.Lookup(7)
	n9, s9, ok9 := x.Lookup(9)
	n11, s11, ok11 := x.Lookup(11)
	if !ok7 || !ok9 || !ok11 || n7 != 0 || n9 != 1 || n11 != 2 {
		t.Fatalf("numbers %d %d %d (%v %v %v), want 0 1 2", n7, n9, n11, ok7, ok9, ok11)
	}
	want := flatline.Settings{KeepAlive: true, Idle: 8 * time.Second, Interval: time.Second, Count: 3}
	if *s7 != want || s7 != s9 {
		t.Fatalf("inode 7: %+v (shared with 9: %v), want %+v, shared", *s7, s7 == s9, want)
	}
	if s11.Idle != 7200*time.Second || s11 == s7 {
		t.Fatalf("inode 11: %+v", *s11)
	}
	if _, _, ok := x.Lookup(0); ok {
		t.Fatal("inode 0 found")
	}
	if _, _, ok := x.Lookup(8); ok {
		t.Fatal("inode 8 found")
	}
	var nilIndex *Index
	if nilIndex.Len() != 0 {
		t.Fatal("nil Index has sockets")
	}
	y := IndexOf([]Socket{{Inode: 3, Settings: want}, {Inode: 0}, {Inode: 4, Settings: want}})
	if _, s, ok := y.Lookup(4); y.Len() != 2 || !ok || *s != want {
		t.Fatalf("IndexOf: %d sockets, inode 4 %v", y.Len(), ok)
	}
}

// TestAddConnsOnce: a socket the walk meets twice is handed over once,
// with what the iterator says of it decoded at the namespace's HZ.
func TestAddConnsOnce(t *testing.T) {
	a := rec{inode: 7, idle: 2000, intvl: 250, cnt: 3, keepalive: 1, family: 2, state: 1, sport: 5432, dport: 40000}.bytes()
	b := append(append(append([]byte{}, a...), rec{inode: 9, family: 10, state: 1}.bytes()...), a...)
	b[33] = 2                                   // the keepalive timer pending
	binary.NativeEndian.PutUint32(b[80:], 250)  // in 250 jiffies
	binary.NativeEndian.PutUint32(b[84:], 51)   // rto: 51 jiffies
	binary.NativeEndian.PutUint32(b[92:], 1000) // 1000 jiffies since data came
	copy(b[48:52], []byte{127, 0, 0, 1})
	x := NewIndex(0)
	var got []Conn
	if err := x.addConns(b, flatline.Host{HZ: 250}, func(_ int32, c *Conn, _ *flatline.Settings) { got = append(got, *c) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Inode != 7 || got[1].Inode != 9 {
		t.Fatalf("handed over %+v, want inodes 7 and 9 once each", got)
	}
	c := got[0]
	if c.Timer != 2 || c.Expires != 1000 || c.RTO != 204000 || c.LastDataRecv != 4000 || c.Local.String() != "127.0.0.1:5432" || c.Remote.Port() != 40000 {
		t.Fatalf("decoded %+v", c)
	}
	if !got[1].Local.Addr().Is6() {
		t.Fatalf("an AF_INET6 socket's address %v", got[1].Local)
	}
}

// FuzzAddConns: any bytes the iterator could write decode without a
// panic; sockets are handed over once each, with their index in range.
func FuzzAddConns(f *testing.F) {
	f.Add(rec{inode: 7, idle: 2000, netKA: 1800000, family: 2, state: 1, keepalive: 1}.bytes(), 250, int64(0))
	f.Add(append(rec{inode: 8, family: 10}.bytes(), rec{inode: 8}.bytes()...), 300, int64(7200))
	f.Fuzz(func(t *testing.T, b []byte, hz int, ka int64) {
		x := NewIndex(1)
		seen := map[uint64]bool{}
		err := x.addConns(b, flatline.Host{HZ: hz % 10000, KeepaliveTime: time.Duration(ka) * time.Second}, func(n int32, c *Conn, s *flatline.Settings) {
			if c.Inode != 0 && seen[c.Inode] {
				t.Fatalf("inode %d handed over twice", c.Inode)
			}
			seen[c.Inode] = true
			if (c.Inode == 0) != (n < 0) || (n >= 0) != (s != nil) || int(n) >= x.Len() {
				t.Fatalf("inode %d: number %d of %d, settings %v", c.Inode, n, x.Len(), s)
			}
		})
		if err != nil {
			return
		}
	})
}

// IndexOf indexes decoded sockets (test helper: scans index the records
// as they read them).
func IndexOf(socks []Socket) *Index {
	x := NewIndex(len(socks))
	for i := range socks {
		x.add(socks[i].Inode, socks[i].Settings)
	}
	return x
}
