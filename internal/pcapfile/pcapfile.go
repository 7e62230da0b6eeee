package pcapfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Errors a Reader returns, wrapped with where in the file it stopped.
var (
	// ErrNotCapture: the stream starts with neither a pcap nor a pcapng
	// magic number.
	ErrNotCapture = errors.New("pcapfile: not a pcap or pcapng file")
	// ErrTruncated: the file ends inside a header, record or block.
	ErrTruncated = errors.New("pcapfile: file ends inside a record")
	// ErrMalformed: a header, record or block states a length or value no
	// capture file holds (larger than its block, than MaxPacket, an
	// interface that was not described).
	ErrMalformed = errors.New("pcapfile: malformed capture")
)

// MaxPacket is the largest captured length the reader accepts (and the
// writer's largest snap length): 262144 bytes, libpcap's MAXIMUM_SNAPLEN
// and Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD.
const MaxPacket = 262144

// MaxBlock is the largest pcapng block the reader reads into memory: a
// packet of MaxPacket with 64 KiB of headers and options. Larger blocks
// of a kind the reader does not use are skipped without being read in;
// larger packet, section or interface blocks are ErrMalformed.
const MaxBlock = MaxPacket + 64<<10

// errAtEnd marks a read that found the stream's end before its first
// byte: between records that is the file's end, not a truncation.
var errAtEnd = errors.New("no more bytes")

// maxInterfaces bounds the interfaces of one pcapng section.
const maxInterfaces = 1 << 16

// Format is a capture file's format.
type Format string

// Formats the reader knows.
const (
	FormatPcap   Format = "pcap"
	FormatPcapNG Format = "pcapng"
)

// Packet is one captured packet.
type Packet struct {
	// Timestamp is when the packet was captured; zero for a pcapng Simple
	// Packet Block, which carries none.
	Timestamp time.Time
	// LinkType is the LINKTYPE_ value of the interface that captured
	// it (1: Ethernet), what says how to decode Data.
	LinkType int
	// Interface is the pcapng interface index within its section; 0 in pcap.
	Interface int
	// Length is the packet's length on the wire, as the file states it
	// (at least len(Data) in a well-formed file).
	Length int
	// Data is the captured bytes, at most MaxPacket. It is valid until the
	// next call to Next; copy it to keep it.
	Data []byte
}

// Reader reads packets from a pcap or pcapng stream.
type Reader struct {
	br      *bufio.Reader
	format  Format
	off     int64  // bytes consumed
	packets int    // packets returned
	buf     []byte // a block or record larger than bufio's buffer
	err     error  // sticky error once a read failed

	// pcap
	order   binary.ByteOrder
	nanos   bool
	link    int
	snaplen int

	// pcapng
	ifaces []iface
}

// NewReader reads the file header of a pcap or pcapng stream (the first
// Section Header Block of a pcapng one). It fails with ErrNotCapture for
// other data, ErrTruncated or ErrMalformed for a broken header.
func NewReader(r io.Reader) (*Reader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < 1<<16 {
		br = bufio.NewReaderSize(r, 1<<16)
	}
	rd := &Reader{br: br}
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%w: %d bytes, a capture file header is longer", ErrNotCapture, len(magic))
	}
	if binary.LittleEndian.Uint32(magic) == blockSHB {
		rd.format = FormatPcapNG
		if err := rd.readFirstSection(); err != nil {
			return nil, err
		}
		return rd, nil
	}
	rd.format = FormatPcap
	if err := rd.readPcapHeader(); err != nil {
		return nil, err
	}
	return rd, nil
}

// Format says whether the stream is pcap or pcapng.
func (r *Reader) Format() Format { return r.format }

// LinkType is the link type of a pcap file, or of the first interface of
// a pcapng file's current section (-1 while it has none).
func (r *Reader) LinkType() int {
	if r.format == FormatPcap {
		return r.link
	}
	if len(r.ifaces) == 0 {
		return -1
	}
	return r.ifaces[0].link
}

// SnapLen is the snap length a pcap file's header states (0: none).
// pcapng states one per interface; SnapLen is 0 for it.
func (r *Reader) SnapLen() int { return r.snaplen }

// Next returns the next packet. It returns io.EOF at the end of a
// well-formed file, and an error wrapping ErrTruncated or ErrMalformed
// (saying which packet and byte offset) where the file breaks; after an
// error every call returns it again.
func (r *Reader) Next() (p Packet, err error) {
	if r.err != nil {
		return p, r.err
	}
	if r.format == FormatPcap {
		err = r.nextPcap(&p)
	} else {
		err = r.nextBlock(&p)
	}
	if err != nil {
		r.err = err
		return Packet{}, err
	}
	r.packets++
	return p, nil
}

// read returns the next n bytes (n at most MaxBlock), valid until the
// next read: in bufio's buffer where they fit, else in the reader's own. A
// stream that ends first is ErrTruncated, saying what was being read
// (what: a constant, so that a packet costs no formatting) and after how
// many packets.
func (r *Reader) read(n int, what string) ([]byte, error) {
	var b []byte
	var got int
	var err error
	if n <= r.br.Size() {
		b, err = r.br.Peek(n)
		got, _ = r.br.Discard(len(b))
	} else {
		if cap(r.buf) < n {
			r.buf = make([]byte, n)
		}
		b = r.buf[:n]
		got, err = io.ReadFull(r.br, b)
	}
	r.off += int64(got)
	if err != nil {
		if got == 0 && err == io.EOF {
			// At a record boundary: a well-formed end where a record may start.
			return nil, fmt.Errorf("%w: %s at byte %d, after %d packets: %w", ErrTruncated, what, r.off, r.packets, errAtEnd)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: %s at byte %d, after %d packets: %d of %d bytes", ErrTruncated, what, r.off-int64(got), r.packets, got, n)
		}
		return nil, fmt.Errorf("pcapfile: %s at byte %d, after %d packets: %w", what, r.off-int64(got), r.packets, err)
	}
	return b, nil
}

// atEOF reports whether the stream ends here, at a record boundary.
func (r *Reader) atEOF() (bool, error) {
	_, err := r.br.Peek(1)
	if err == io.EOF {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("pcapfile: at byte %d: %w", r.off, err)
	}
	return false, nil
}

// malformed wraps ErrMalformed with where it was found.
func (r *Reader) malformed(at int64, format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d, after %d packets: %s", ErrMalformed, at, r.packets, fmt.Sprintf(format, args...))
}

// wireLen converts a file's 32-bit length to an int on every platform.
func wireLen(v uint32) int { return int(min(v, math.MaxInt32)) }
