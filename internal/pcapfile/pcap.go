package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// pcap magic numbers as a little-endian read of the first four bytes.
const (
	magicMicros        = 0xa1b2c3d4
	magicNanos         = 0xa1b23c4d
	magicMicrosSwapped = 0xd4c3b2a1
	magicNanosSwapped  = 0x4d3cb2a1
	magicModified      = 0xa1b2cd34 // Kuznetzov's patched libpcap: longer records
	magicModifiedSwap  = 0x34cdb2a1
)

const (
	pcapHeaderLen = 24
	pcapRecordLen = 16
	// linkTypeMask keeps the link type of the header's network field; the
	// upper bits say whether frames carry a frame check sequence.
	linkTypeMask = 0x03ffffff
)

func (r *Reader) readPcapHeader() error {
	h, err := r.read(pcapHeaderLen, "pcap file header")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotCapture, err)
	}
	switch m := binary.LittleEndian.Uint32(h); m {
	case magicMicros, magicNanos:
		r.order, r.nanos = binary.LittleEndian, m == magicNanos
	case magicMicrosSwapped, magicNanosSwapped:
		r.order, r.nanos = binary.BigEndian, m == magicNanosSwapped
	case magicModified, magicModifiedSwap:
		return fmt.Errorf("%w: modified pcap (magic %#x, Kuznetzov's libpcap) is not read: convert it with editcap -F pcap", ErrNotCapture, m)
	default:
		return fmt.Errorf("%w: magic %#08x, want a pcap (a1b2c3d4, a1b23c4d either byte order) or pcapng (0a0d0d0a) one", ErrNotCapture, m)
	}
	if major := r.order.Uint16(h[4:6]); major != 2 {
		return fmt.Errorf("%w: pcap version %d.%d, want 2.x", ErrMalformed, major, r.order.Uint16(h[6:8]))
	}
	r.snaplen = wireLen(r.order.Uint32(h[16:20]))
	r.link = int(r.order.Uint32(h[20:24]) & linkTypeMask)
	return nil
}

// nextPcap reads one pcap record. A record's captured length may exceed
// the header's snap length (Python's dpkt writes such files, and tcpdump
// and Wireshark read them) but never MaxPacket.
func (r *Reader) nextPcap(p *Packet) error {
	at := r.off
	h, err := r.read(pcapRecordLen, "record header")
	if err != nil {
		if errors.Is(err, errAtEnd) {
			return io.EOF
		}
		return err
	}
	sec, frac := r.order.Uint32(h[0:4]), r.order.Uint32(h[4:8])
	caplen, orig := r.order.Uint32(h[8:12]), r.order.Uint32(h[12:16])
	if caplen > MaxPacket {
		return r.malformed(at, "captured length %d, more than the %d any pcap reader takes", caplen, MaxPacket)
	}
	nsec := int64(frac)
	if !r.nanos {
		nsec *= 1000
	}
	data, err := r.read(int(caplen), "packet data")
	if err != nil {
		return err
	}
	*p = Packet{Timestamp: time.Unix(int64(sec), nsec), LinkType: r.link, Length: wireLen(orig), Data: data}
	return nil
}
