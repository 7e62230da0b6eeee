package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// record is one hand-built pcap record.
type record struct {
	sec, frac, caplen, orig uint32
	data                    []byte
}

// pcapFile builds a pcap file byte by byte, whatever its fields say.
func pcapFile(order binary.AppendByteOrder, magic uint32, snaplen, link uint32, recs ...record) []byte {
	b := order.AppendUint32(nil, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, snaplen)
	b = order.AppendUint32(b, link)
	for _, r := range recs {
		b = order.AppendUint32(b, r.sec)
		b = order.AppendUint32(b, r.frac)
		b = order.AppendUint32(b, r.caplen)
		b = order.AppendUint32(b, r.orig)
		b = append(b, r.data...)
	}
	return b
}

// readAll reads every packet (copies of their data) up to the first error.
func readAll(t testing.TB, data []byte) (*Reader, []Packet, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	var ps []Packet
	for {
		p, err := r.Next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return r, ps, err
		}
		p.Data = bytes.Clone(p.Data)
		ps = append(ps, p)
	}
}

func TestReadPcap(t *testing.T) {
	pay := []byte{1, 2, 3, 4, 5}
	tests := []struct {
		name  string
		order binary.AppendByteOrder
		magic uint32
		nsec  int // of the record whose fraction field is 123456
	}{
		{"little-endian microseconds", binary.LittleEndian, 0xa1b2c3d4, 123456000},
		{"little-endian nanoseconds", binary.LittleEndian, 0xa1b23c4d, 123456},
		{"big-endian microseconds", binary.BigEndian, 0xa1b2c3d4, 123456000},
		{"big-endian nanoseconds", binary.BigEndian, 0xa1b23c4d, 123456},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The link type field's upper bits (FCS length) are not the link type.
			file := pcapFile(tt.order, tt.magic, 65535, 0x10000000|113,
				record{1700000000, 123456, 5, 60, pay},
				record{1700000001, 0, 0, 0, nil},
				record{4000000000, 999, 3, 3, pay[:3]}, // past 2038: the seconds are unsigned
			)
			r, got, err := readAll(t, file)
			if err != nil {
				t.Fatal(err)
			}
			want := []Packet{
				{Timestamp: time.Unix(1700000000, int64(tt.nsec)), LinkType: 113, Length: 60, Data: pay},
				{Timestamp: time.Unix(1700000001, 0), LinkType: 113, Data: []byte{}},
				{Timestamp: time.Unix(4000000000, 999*int64(tt.nsec)/123456), LinkType: 113, Length: 3, Data: pay[:3]},
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if r.Format() != FormatPcap || r.LinkType() != 113 || r.SnapLen() != 65535 {
				t.Errorf("format %s, link type %d, snap length %d; want pcap, 113, 65535", r.Format(), r.LinkType(), r.SnapLen())
			}
		})
	}
}

// TestReadPcapOverSnapLen: a record longer than the header's snap length
// (Python's dpkt writes snap length 1500 whatever it writes) is read, as
// tcpdump and Wireshark read it.
func TestReadPcapOverSnapLen(t *testing.T) {
	data := make([]byte, 2000)
	_, got, err := readAll(t, pcapFile(binary.LittleEndian, 0xa1b2c3d4, 1500, 1, record{1, 0, 2000, 2000, data}))
	if err != nil || len(got) != 1 || len(got[0].Data) != 2000 {
		t.Fatalf("got %d packets, err %v; want one of 2000 bytes", len(got), err)
	}
}

func TestReadPcapNG(t *testing.T) {
	frame := testutil.TCPFrame(netipAP("10.0.0.1:40000"), netipAP("10.0.1.1:80"), 1, 2, 0x10, 3)
	w := testutil.NewPcapNG(binary.LittleEndian)
	w.Interface(1, 0, -1, 0)                             // 0: Ethernet, microseconds
	w.Interface(101, 128, 9, 0)                          // 1: raw IP, nanoseconds
	w.Interface(1, 0, 0x80|20, 0)                        // 2: 2^-20 s units
	w.Interface(1, 0, 3, 1000)                           // 3: milliseconds, 1000 s later
	w.Block(5, make([]byte, 20))                         // an Interface Statistics Block: skipped
	w.EPB(0, 1700000000_123456, frame, len(frame))       // 1700000000.123456
	w.EPB(1, 1700000000_123456789, frame[14:], 1514)     // nanoseconds, snapped
	w.EPB(2, 1700000000<<20|1<<19, frame, len(frame))    // .5 s
	w.EPB(3, 1700000000_250, frame, len(frame))          // .25 s + 1000 s
	w.OPB(0, 1700000002_000001, frame, len(frame))       // obsolete block
	w.SPB(frame, len(frame))                             // interface 0, no time
	w.Block(0x40000bad, bytes.Repeat([]byte{0xff}, 100)) // a custom block: skipped
	be := testutil.NewPcapNG(binary.BigEndian)           // a second section, the other byte order
	be.Interface(113, 0, 9, 0)
	be.EPB(0, 1700000003_000000007, frame, 2000)
	file := append(bytes.Clone(w.Bytes()), be.Bytes()...)

	r, got, err := readAll(t, file)
	if err != nil {
		t.Fatal(err)
	}
	n := len(frame)
	want := []Packet{
		{Timestamp: time.Unix(1700000000, 123456000), LinkType: 1, Length: n, Data: frame},
		{Timestamp: time.Unix(1700000000, 123456789), LinkType: 101, Interface: 1, Length: 1514, Data: frame[14:]},
		{Timestamp: time.Unix(1700000000, 500000000), LinkType: 1, Interface: 2, Length: n, Data: frame},
		{Timestamp: time.Unix(1700001000, 250000000), LinkType: 1, Interface: 3, Length: n, Data: frame},
		{Timestamp: time.Unix(1700000002, 1000), LinkType: 1, Length: n, Data: frame},
		{LinkType: 1, Length: n, Data: frame},
		{Timestamp: time.Unix(1700000003, 7), LinkType: 113, Length: 2000, Data: frame},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if r.Format() != FormatPcapNG || r.LinkType() != 113 {
		t.Errorf("format %s, link type %d; want pcapng, 113 (the last section's)", r.Format(), r.LinkType())
	}
}

// TestSimplePacketSnapLen: a Simple Packet Block's captured length is the
// smallest of its original length, its interface's snap length and its block.
func TestSimplePacketSnapLen(t *testing.T) {
	w := testutil.NewPcapNG(binary.BigEndian)
	w.Interface(1, 4, -1, 0)
	w.SPB([]byte{1, 2, 3, 4, 5, 6}, 6) // padded to 8 in the block: 6 bytes are data, 4 captured
	w.SPB([]byte{1, 2, 3}, 2)          // original length 2: 2 bytes are data
	_, got, err := readAll(t, w.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []Packet{{LinkType: 1, Length: 6, Data: []byte{1, 2, 3, 4}}, {LinkType: 1, Length: 2, Data: []byte{1, 2}}}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func netipAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// ngWith builds a little-endian pcapng file: a section, one Ethernet
// interface, then the blocks add writes.
func ngWith(add func(w *testutil.PcapNG)) []byte {
	w := testutil.NewPcapNG(binary.LittleEndian)
	w.Interface(1, 0, -1, 0)
	add(w)
	return w.Bytes()
}

// block is a raw little-endian block whose lengths say what they are told.
func block(typ, total, trail uint32, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, total)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, trail)
}

func TestReaderErrors(t *testing.T) {
	le := binary.LittleEndian
	good := pcapFile(le, 0xa1b2c3d4, 65535, 1, record{1, 0, 4, 4, []byte{1, 2, 3, 4}})
	ng := ngWith(func(w *testutil.PcapNG) { w.EPB(0, 1, []byte{1, 2, 3, 4}, 4) })
	shb := testutil.NewPcapNG(le).Bytes()
	tests := []struct {
		name    string
		data    []byte
		packets int   // read before the error
		want    error // from NewReader (packets -1) or from Next
	}{
		{"empty", nil, -1, ErrNotCapture},
		{"text", []byte("hello, not a capture file"), -1, ErrNotCapture},
		{"short header", good[:20], -1, ErrTruncated},
		{"modified pcap", pcapFile(le, 0xa1b2cd34, 65535, 1), -1, ErrNotCapture},
		{"pcap version 1", append(append(bytes.Clone(good[:4]), 1, 0), good[6:]...), -1, ErrMalformed},
		{"cut in record header", good[:30], 0, ErrTruncated},
		{"cut in data", good[:len(good)-1], 0, ErrTruncated},
		{"captured length over MaxPacket", pcapFile(le, 0xa1b2c3d4, 65535, 1, record{1, 0, MaxPacket + 1, 0, nil}), 0, ErrMalformed},
		{"pcapng byte-order magic", append(bytes.Clone(ng[:8]), append([]byte{1, 2, 3, 4}, ng[12:]...)...), -1, ErrMalformed},
		{"pcapng version 2", append(append(bytes.Clone(shb[:12]), 2, 0), shb[14:]...), -1, ErrMalformed},
		{"pcapng short section header", shb[:20], -1, ErrTruncated},
		{"pcapng starts with another block", append(bytes.Clone(shb[:0]), block(0x0a0d0d0a, 20, 20, []byte{0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0})...), -1, ErrMalformed},
		{"block length not a multiple of 4", append(bytes.Clone(shb), block(6, 13, 13, make([]byte, 1))...), 0, ErrMalformed},
		{"block length below 12", append(bytes.Clone(shb), block(6, 8, 8, nil)...), 0, ErrMalformed},
		{"trailing length differs", append(bytes.Clone(shb), block(1, 20, 24, make([]byte, 8))...), 0, ErrMalformed},
		{"skipped block's trailing length differs", append(bytes.Clone(shb), block(5, 16, 20, make([]byte, 4))...), 0, ErrMalformed},
		{"packet of an undescribed interface", ngWith(func(w *testutil.PcapNG) { w.EPB(1, 1, nil, 0) }), 0, ErrMalformed},
		{"packet before any interface", append(bytes.Clone(shb), ng[len(ng)-36:]...), 0, ErrMalformed},
		{"simple packet before any interface", append(bytes.Clone(shb), block(3, 16, 16, make([]byte, 4))...), 0, ErrMalformed},
		{"captured length beyond its block", append(bytes.Clone(ng[:len(ng)-36]), block(6, 36, 36, append(make([]byte, 12), 100, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4))...), 0, ErrMalformed},
		{"short packet block", append(bytes.Clone(ng[:len(ng)-36]), block(6, 24, 24, make([]byte, 12))...), 0, ErrMalformed},
		{"packet block over MaxBlock", append(bytes.Clone(ng[:len(ng)-36]), block(6, MaxBlock+4, 0, nil)...), 0, ErrMalformed},
		{"tsresol 10^-20", ngWith(func(w *testutil.PcapNG) { w.Interface(1, 0, 20, 0) }), 0, ErrMalformed},
		{"tsresol 2^-64", ngWith(func(w *testutil.PcapNG) { w.Interface(1, 0, 0x80|64, 0) }), 0, ErrMalformed},
		{"interface option beyond its block", ngWith(func(w *testutil.PcapNG) { w.Block(1, []byte{1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 8, 0}) }), 0, ErrMalformed},
		{"cut in a packet block", ng[:len(ng)-2], 0, ErrTruncated},
		{"cut in a block header", ng[:len(ng)-32], 0, ErrTruncated},
		{"skipped block longer than the file", append(bytes.Clone(ng), block(5, 0xfffffffc, 0, nil)...), 1, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, got, err := readAll(t, tt.data)
			if tt.packets < 0 {
				if r != nil || !errors.Is(err, tt.want) {
					t.Fatalf("NewReader: %v, want %v", err, tt.want)
				}
				return
			}
			if r == nil {
				t.Fatalf("NewReader: %v", err)
			}
			if !errors.Is(err, tt.want) || len(got) != tt.packets {
				t.Fatalf("%d packets, then %v; want %d, then %v", len(got), err, tt.packets, tt.want)
			}
			if _, again := r.Next(); again != err {
				t.Errorf("Next after the error: %v, want the same error", again)
			}
			t.Log(err)
		})
	}
}

// TestHostileLengths: a block or record that claims gigabytes costs no
// more memory than MaxBlock, whatever the file holds.
func TestHostileLengths(t *testing.T) {
	files := map[string][]byte{
		"pcap record of 4 GiB":      pcapFile(binary.LittleEndian, 0xa1b2c3d4, 0xffffffff, 1, record{1, 0, 0xffffffff, 0xffffffff, nil}),
		"pcapng packet of 4 GiB":    ngWith(func(w *testutil.PcapNG) { w.Block(6, make([]byte, 20)) }),
		"pcapng skipped 4 GiB":      append(testutil.NewPcapNG(binary.LittleEndian).Bytes(), block(5, 0xfffffffc, 0, nil)...),
		"pcapng interface of 4 GiB": append(testutil.NewPcapNG(binary.LittleEndian).Bytes(), block(1, 0xfffffffc, 0, nil)...),
	}
	// The packet block above is well formed; make its captured length huge.
	b := files["pcapng packet of 4 GiB"]
	binary.LittleEndian.PutUint32(b[len(b)-12:], 0xffffffff)
	for name, data := range files {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := readAll(t, data)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*MaxBlock {
			t.Errorf("%s: %d bytes allocated, want at most %d", name, alloc, 2*MaxBlock)
		}
	}
}
