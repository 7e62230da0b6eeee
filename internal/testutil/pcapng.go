package testutil

import (
	"bytes"
	"encoding/binary"
)

// PcapNG builds a pcapng file block by block, in either byte order, for
// tests of readers: well-formed files of several sections and interfaces,
// and broken ones through Block and Bytes.
type PcapNG struct {
	order binary.AppendByteOrder
	buf   bytes.Buffer
}

// NewPcapNG starts a file with a Section Header Block in the byte order
// (binary.LittleEndian or binary.BigEndian).
func NewPcapNG(order binary.AppendByteOrder) *PcapNG {
	w := &PcapNG{order: order}
	w.Section()
	return w
}

// Section starts a new section: a Section Header Block (version 1.0,
// section length unknown) with a shb_userappl option.
func (w *PcapNG) Section() {
	body := w.order.AppendUint32(nil, 0x1a2b3c4d)
	body = w.order.AppendUint16(body, 1)
	body = w.order.AppendUint16(body, 0)
	body = w.order.AppendUint64(body, ^uint64(0))
	body = w.option(body, 4, []byte("flatline test"))
	body = w.order.AppendUint32(body, 0) // opt_endofopt
	w.Block(0x0a0d0d0a, body)
}

// Interface adds an Interface Description Block: link type, snap length
// (0: none), if_tsresol (negative: left out, so microseconds) and
// if_tsoffset in seconds (0: left out).
func (w *PcapNG) Interface(link, snaplen, tsresol int, tsoffset int64) {
	body := w.order.AppendUint16(nil, uint16(link))
	body = w.order.AppendUint16(body, 0)
	body = w.order.AppendUint32(body, uint32(snaplen))
	body = w.option(body, 2, []byte("test0")) // if_name
	if tsresol >= 0 {
		body = w.option(body, 9, []byte{byte(tsresol)})
	}
	if tsoffset != 0 {
		body = w.option(body, 14, w.order.AppendUint64(nil, uint64(tsoffset)))
	}
	body = w.order.AppendUint32(body, 0)
	w.Block(1, body)
}

// EPB adds an Enhanced Packet Block: interface index, timestamp in the
// interface's units, data and length on the wire.
func (w *PcapNG) EPB(ifc int, ts uint64, data []byte, length int) {
	body := w.order.AppendUint32(nil, uint32(ifc))
	body = w.order.AppendUint32(body, uint32(ts>>32))
	body = w.order.AppendUint32(body, uint32(ts))
	body = w.order.AppendUint32(body, uint32(len(data)))
	body = w.order.AppendUint32(body, uint32(length))
	w.Block(6, pad(append(body, data...)))
}

// OPB adds an Obsolete Packet Block (16-bit interface index, drop count 0).
func (w *PcapNG) OPB(ifc int, ts uint64, data []byte, length int) {
	body := w.order.AppendUint16(nil, uint16(ifc))
	body = w.order.AppendUint16(body, 0)
	body = w.order.AppendUint32(body, uint32(ts>>32))
	body = w.order.AppendUint32(body, uint32(ts))
	body = w.order.AppendUint32(body, uint32(len(data)))
	body = w.order.AppendUint32(body, uint32(length))
	w.Block(2, pad(append(body, data...)))
}

// SPB adds a Simple Packet Block (interface 0, no timestamp).
func (w *PcapNG) SPB(data []byte, length int) {
	w.Block(3, pad(append(w.order.AppendUint32(nil, uint32(length)), data...)))
}

// Block adds a block of any type around body (padded by the caller).
func (w *PcapNG) Block(typ uint32, body []byte) {
	total := uint32(12 + len(body))
	w.buf.Write(w.order.AppendUint32(w.order.AppendUint32(nil, typ), total))
	w.buf.Write(body)
	w.buf.Write(w.order.AppendUint32(nil, total))
}

// Bytes is the file so far.
func (w *PcapNG) Bytes() []byte { return w.buf.Bytes() }

func (w *PcapNG) option(b []byte, code uint16, v []byte) []byte {
	b = w.order.AppendUint16(b, code)
	b = w.order.AppendUint16(b, uint16(len(v)))
	return pad(append(b, v...))
}

func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
