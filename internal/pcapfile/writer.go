package pcapfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"
)

// Writer writes a pcap file with nanosecond timestamps in little-endian
// byte order. It makes one Write call per packet: give it a bufio.Writer
// (and flush it) for many small packets.
type Writer struct {
	w       io.Writer
	snaplen int
	buf     []byte
}

// NewWriter writes the file header: link type (a LINKTYPE_ value, 1 for
// Ethernet) and snap length (the longest packet data WritePacket will
// take, 1 to MaxPacket).
func NewWriter(w io.Writer, linkType, snaplen int) (*Writer, error) {
	if snaplen < 1 || snaplen > MaxPacket {
		return nil, fmt.Errorf("pcapfile: snap length %d, want 1 to %d", snaplen, MaxPacket)
	}
	if linkType < 0 || linkType > linkTypeMask {
		return nil, fmt.Errorf("pcapfile: link type %d, want 0 to %d", linkType, linkTypeMask)
	}
	h := make([]byte, pcapHeaderLen)
	le := binary.LittleEndian
	le.PutUint32(h[0:4], magicNanos)
	le.PutUint16(h[4:6], 2)
	le.PutUint16(h[6:8], 4)
	le.PutUint32(h[16:20], uint32(snaplen))
	le.PutUint32(h[20:24], uint32(linkType))
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("pcapfile: write file header: %w", err)
	}
	return &Writer{w: w, snaplen: snaplen}, nil
}

// WritePacket writes one packet captured at ts: its data (at most the snap
// length) and its length on the wire (at least len(data); 0 means
// len(data)). ts must lie between 1970 and 2106, the pcap format's range.
func (w *Writer) WritePacket(ts time.Time, data []byte, length int) error {
	if len(data) > w.snaplen {
		return fmt.Errorf("pcapfile: packet of %d bytes, more than the snap length %d", len(data), w.snaplen)
	}
	if length == 0 {
		length = len(data)
	}
	if length < len(data) || length > math.MaxUint32 {
		return fmt.Errorf("pcapfile: length on the wire %d, want %d (the data) to %d", length, len(data), uint32(math.MaxUint32))
	}
	sec := ts.Unix()
	if sec < 0 || sec > math.MaxUint32 {
		return fmt.Errorf("pcapfile: timestamp %v outside pcap's 1970-2106", ts)
	}
	n := pcapRecordLen + len(data)
	if cap(w.buf) < n {
		w.buf = make([]byte, n)
	}
	b := w.buf[:n]
	le := binary.LittleEndian
	le.PutUint32(b[0:4], uint32(sec))
	le.PutUint32(b[4:8], uint32(ts.Nanosecond()))
	le.PutUint32(b[8:12], uint32(len(data)))
	le.PutUint32(b[12:16], uint32(length))
	copy(b[16:], data)
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("pcapfile: write packet: %w", err)
	}
	return nil
}
