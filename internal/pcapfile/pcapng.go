package pcapfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// pcapng block types.
const (
	blockSHB = 0x0a0d0d0a // Section Header Block (the same in both byte orders)
	blockIDB = 1          // Interface Description Block
	blockOPB = 2          // Obsolete Packet Block
	blockSPB = 3          // Simple Packet Block
	blockEPB = 6          // Enhanced Packet Block

	byteOrderMagic = 0x1a2b3c4d
)

// Interface Description Block options the reader uses.
const (
	optEnd      = 0
	optTSResol  = 9
	optTSOffset = 14
)

// iface is one Interface Description Block.
type iface struct {
	link      int
	snaplen   int
	perSecond uint64 // timestamp units per second (if_tsresol; default 10^6)
	offset    int64  // seconds added to every timestamp (if_tsoffset)
}

// readFirstSection reads the Section Header Block a pcapng file starts with.
func (r *Reader) readFirstSection() error {
	typ, body, err := r.readBlock()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotCapture, err)
	}
	if typ != blockSHB {
		return fmt.Errorf("%w: pcapng file starts with block type %#x, not a section header", ErrMalformed, typ)
	}
	return r.section(body)
}

// nextBlock reads blocks until a packet, skipping the kinds it does not use.
func (r *Reader) nextBlock(p *Packet) error {
	for {
		if eof, err := r.atEOF(); eof || err != nil {
			if eof {
				return io.EOF
			}
			return err
		}
		at := r.off
		typ, body, err := r.readBlock()
		if err != nil {
			return err
		}
		switch typ {
		case blockSHB:
			err = r.section(body)
		case blockIDB:
			err = r.addInterface(at, body)
		case blockEPB, blockOPB:
			return r.packet(p, at, typ, body)
		case blockSPB:
			return r.simplePacket(p, at, body)
		}
		if err != nil {
			return err
		}
	}
}

// readBlock reads one block: its type and, for the kinds the reader uses,
// its body (without the type and the two lengths); others are skipped
// without being read into memory and come back with a nil body. A new
// Section Header Block sets the byte order it and the blocks after it use.
func (r *Reader) readBlock() (typ uint32, body []byte, err error) {
	at := r.off
	head, err := r.br.Peek(12)
	if err != nil && err != io.EOF && len(head) < 12 {
		return 0, nil, fmt.Errorf("pcapfile: block header at byte %d: %w", at, err)
	}
	if len(head) < 8 {
		return 0, nil, fmt.Errorf("%w: block header at byte %d: %d of 8 bytes", ErrTruncated, at, len(head))
	}
	if binary.LittleEndian.Uint32(head) == blockSHB {
		if len(head) < 12 {
			return 0, nil, fmt.Errorf("%w: section header at byte %d: %d of 12 bytes", ErrTruncated, at, len(head))
		}
		switch binary.LittleEndian.Uint32(head[8:12]) {
		case byteOrderMagic:
			r.order = binary.LittleEndian
		case bits.ReverseBytes32(byteOrderMagic):
			r.order = binary.BigEndian
		default:
			return 0, nil, r.malformed(at, "section header's byte-order magic is %x, want 1a2b3c4d either way round", head[8:12])
		}
	}
	typ, total := r.order.Uint32(head[0:4]), r.order.Uint32(head[4:8])
	least := uint32(12)
	if typ == blockSHB {
		least = 28
	}
	if total < least || total%4 != 0 {
		return 0, nil, r.malformed(at, "block type %#x of %d bytes: want a multiple of 4, at least %d", typ, total, least)
	}
	if !used(typ) {
		return typ, nil, r.skip(at, typ, total)
	}
	if total > MaxBlock {
		return 0, nil, r.malformed(at, "block type %#x of %d bytes, more than the %d a packet block can need", typ, total, MaxBlock)
	}
	b, err := r.read(int(total), "block")
	if err != nil {
		return 0, nil, err
	}
	if trail := r.order.Uint32(b[total-4:]); trail != total {
		return 0, nil, r.malformed(at, "block type %#x states %d bytes at its start and %d at its end", typ, total, trail)
	}
	return typ, b[8 : total-4], nil
}

func used(typ uint32) bool {
	switch typ {
	case blockSHB, blockIDB, blockEPB, blockOPB, blockSPB:
		return true
	}
	return false
}

// skip discards a block's body and checks its trailing length.
func (r *Reader) skip(at int64, typ, total uint32) error {
	for left := int64(total) - 4; left > 0; {
		n, err := r.br.Discard(int(min(left, 1<<20)))
		r.off += int64(n)
		left -= int64(n)
		if err != nil {
			return fmt.Errorf("%w: block type %#x at byte %d: %d of %d bytes", ErrTruncated, typ, at, r.off-at, total)
		}
	}
	b, err := r.read(4, "end of a skipped block")
	if err != nil {
		return err
	}
	if trail := r.order.Uint32(b); trail != total {
		return r.malformed(at, "block type %#x states %d bytes at its start and %d at its end", typ, total, trail)
	}
	return nil
}

// section starts a new section: interfaces of earlier ones no longer apply.
func (r *Reader) section(body []byte) error {
	if major, minor := r.order.Uint16(body[4:6]), r.order.Uint16(body[6:8]); major != 1 {
		return fmt.Errorf("%w: pcapng version %d.%d, want 1.x", ErrMalformed, major, minor)
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

func (r *Reader) addInterface(at int64, body []byte) error {
	if len(body) < 8 {
		return r.malformed(at, "interface description of %d bytes, want at least 8", len(body))
	}
	if len(r.ifaces) >= maxInterfaces {
		return r.malformed(at, "more than %d interfaces in one section", maxInterfaces)
	}
	ifc := iface{link: int(r.order.Uint16(body[0:2])), snaplen: wireLen(r.order.Uint32(body[4:8])), perSecond: 1e6}
	opts := body[8:]
	for len(opts) >= 4 {
		code, n := r.order.Uint16(opts[0:2]), int(r.order.Uint16(opts[2:4]))
		if code == optEnd {
			break
		}
		if n > len(opts)-4 {
			return r.malformed(at, "interface option %d states %d bytes; %d are left in its block", code, n, len(opts)-4)
		}
		v := opts[4 : 4+n]
		switch {
		case code == optTSResol && n == 1:
			ps, ok := unitsPerSecond(v[0])
			if !ok {
				return r.malformed(at, "if_tsresol %#x: finer than a unit of 2^-63 or 10^-19 s", v[0])
			}
			ifc.perSecond = ps
		case code == optTSOffset && n == 8:
			ifc.offset = int64(r.order.Uint64(v))
		}
		opts = opts[min(4+(n+3)&^3, len(opts)):]
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

// unitsPerSecond decodes if_tsresol: 10^-v seconds, or 2^-v with the top bit set.
func unitsPerSecond(v byte) (uint64, bool) {
	if v&0x80 != 0 {
		e := v &^ 0x80
		return 1 << e, e <= 63
	}
	if v > 19 {
		return 0, false
	}
	ps := uint64(1)
	for range v {
		ps *= 10
	}
	return ps, true
}

// packet decodes an Enhanced or Obsolete Packet Block: the same fields,
// but a 16-bit interface index (and a drop count) in the obsolete one.
func (r *Reader) packet(p *Packet, at int64, typ uint32, body []byte) error {
	if len(body) < 20 {
		return r.malformed(at, "packet block of %d bytes, want at least 20", len(body))
	}
	id := r.order.Uint32(body[0:4])
	if typ == blockOPB {
		id = uint32(r.order.Uint16(body[0:2]))
	}
	if id >= uint32(len(r.ifaces)) {
		return r.malformed(at, "packet of interface %d; the section describes %d", id, len(r.ifaces))
	}
	ifc := r.ifaces[id]
	caplen, orig := r.order.Uint32(body[12:16]), r.order.Uint32(body[16:20])
	if caplen > uint32(len(body)-20) || caplen > MaxPacket {
		return r.malformed(at, "captured length %d in a block with room for %d (at most %d)", caplen, len(body)-20, MaxPacket)
	}
	ts := uint64(r.order.Uint32(body[4:8]))<<32 | uint64(r.order.Uint32(body[8:12]))
	*p = Packet{Timestamp: ifc.time(ts), LinkType: ifc.link, Interface: int(id), Length: wireLen(orig), Data: body[20 : 20+caplen]}
	return nil
}

// simplePacket decodes a Simple Packet Block: interface 0, no timestamp,
// captured length the smaller of the original length, the interface's snap
// length and the block.
func (r *Reader) simplePacket(p *Packet, at int64, body []byte) error {
	if len(body) < 4 {
		return r.malformed(at, "simple packet block of %d bytes, want at least 4", len(body))
	}
	if len(r.ifaces) == 0 {
		return r.malformed(at, "simple packet block before any interface description")
	}
	ifc := r.ifaces[0]
	orig := wireLen(r.order.Uint32(body[0:4]))
	caplen := min(orig, len(body)-4, MaxPacket)
	if ifc.snaplen > 0 {
		caplen = min(caplen, ifc.snaplen)
	}
	*p = Packet{LinkType: ifc.link, Length: orig, Data: body[4 : 4+caplen]}
	return nil
}

// time converts a timestamp in the interface's units to wall time.
func (ifc iface) time(ts uint64) time.Time {
	sec, rem := ts/ifc.perSecond, ts%ifc.perSecond
	hi, lo := bits.Mul64(rem, 1e9) // rem < perSecond, so hi < perSecond: no overflow
	nsec, _ := bits.Div64(hi, lo, ifc.perSecond)
	return time.Unix(int64(sec)+ifc.offset, int64(nsec))
}
