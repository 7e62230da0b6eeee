package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/testutil"
)

// fuzzSeeds are well-formed files of every kind the reader takes: the
// writer's, hand-built pcapng in both byte orders with several sections,
// interfaces and block kinds, and a capture dumpcap made.
func fuzzSeeds(tb testing.TB) [][]byte {
	frame := testutil.TCPFrame(netipAP("10.0.0.1:40000"), netipAP("10.0.1.1:80"), 1, 2, 0x10, 1)
	var pcap bytes.Buffer
	w, err := NewWriter(&pcap, 1, 128)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range 3 {
		if err := w.WritePacket(time.Unix(1700000000, int64(i)), frame, len(frame)); err != nil {
			tb.Fatal(err)
		}
	}
	seeds := [][]byte{pcap.Bytes(), pcapFile(binary.BigEndian, 0xa1b2c3d4, 64, 101, record{1, 2, 4, 4, []byte{0x45, 0, 0, 4}})}
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		ng := testutil.NewPcapNG(order)
		ng.Interface(1, 0, 9, 0)
		ng.Interface(113, 64, 0x80|10, 5)
		ng.EPB(0, 1, frame, len(frame))
		ng.EPB(1, 2, frame, 1000)
		ng.OPB(1, 3, frame, len(frame))
		ng.Block(5, make([]byte, 8))
		ng.SPB(frame, len(frame))
		ng.Section()
		ng.Interface(101, 0, -1, 0)
		ng.EPB(0, 4, frame[14:], len(frame)-14)
		seeds = append(seeds, ng.Bytes())
	}
	real, err := os.ReadFile("../../storm/testdata/loopback-keepalive.pcapng")
	if err != nil {
		tb.Fatal(err)
	}
	return append(seeds, real[:min(len(real), 2048)])
}

// FuzzReader: any bytes are rejected, or read packet by packet to io.EOF
// or to an error that says the file is truncated or malformed, never
// panicking, every packet within MaxPacket; a pcap packet written back
// with the Writer reads back the same.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrNotCapture) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("NewReader: %v wraps none of the package's errors", err)
			}
			return
		}
		for n := 0; ; n++ {
			if n > len(data)/12 {
				t.Fatalf("%d packets from %d bytes", n, len(data))
			}
			p, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("Next: %v wraps neither ErrTruncated nor ErrMalformed", err)
				}
				return
			}
			if len(p.Data) > MaxPacket || p.LinkType < 0 || p.Interface < 0 || p.Length < 0 {
				t.Fatalf("packet %d: %d bytes, link type %d, interface %d, length %d", n, len(p.Data), p.LinkType, p.Interface, p.Length)
			}
			if r.Format() == FormatPcap {
				roundTrip(t, p)
			}
		}
	})
}

// roundTrip writes p with the Writer and reads it back, when the pcap
// format can hold it.
func roundTrip(t *testing.T, p Packet) {
	if p.Timestamp.Unix() < 0 || p.Timestamp.Unix() > 1<<32-1 || p.Length < len(p.Data) {
		return
	}
	var b bytes.Buffer
	w, err := NewWriter(&b, p.LinkType, MaxPacket)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(p.Timestamp, p.Data, p.Length); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	q, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !q.Timestamp.Equal(p.Timestamp) || q.Length != p.Length || q.LinkType != p.LinkType || !bytes.Equal(q.Data, p.Data) {
		t.Fatalf("wrote %+v, read back %+v", p, q)
	}
}
