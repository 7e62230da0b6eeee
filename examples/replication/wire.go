package main

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The link's wire format, big endian.
//
//	hello  kind(1: 'D' data, 'H' heartbeat) session(8) last committed(8)
//	record seq(8) length(4) payload(length)
//	ack    seq(8): the replica has committed every record up to seq
const (
	helloSize     = 17
	recordHeader  = 12
	ackSize       = 8
	maxRecordSize = 1 << 20

	kindData      = 'D'
	kindHeartbeat = 'H'
)

// errWire matches every malformed message.
var errWire = errors.New("replication: malformed message")

type hello struct {
	kind    byte
	session uint64
	last    uint64
}

func (h hello) encode() []byte {
	b := make([]byte, helloSize)
	b[0] = h.kind
	binary.BigEndian.PutUint64(b[1:9], h.session)
	binary.BigEndian.PutUint64(b[9:17], h.last)
	return b
}

func decodeHello(b []byte) (hello, error) {
	if len(b) != helloSize {
		return hello{}, fmt.Errorf("%w: hello of %d bytes, want %d", errWire, len(b), helloSize)
	}
	if b[0] != kindData && b[0] != kindHeartbeat {
		return hello{}, fmt.Errorf("%w: hello kind %q, want 'D' or 'H'", errWire, b[0])
	}
	return hello{kind: b[0], session: binary.BigEndian.Uint64(b[1:9]), last: binary.BigEndian.Uint64(b[9:17])}, nil
}

// appendRecord appends record seq with payload p to b.
func appendRecord(b []byte, seq uint64, p []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...)
}

// decodeRecordHeader returns a record's sequence number and payload length.
func decodeRecordHeader(b []byte) (seq uint64, n int, err error) {
	if len(b) != recordHeader {
		return 0, 0, fmt.Errorf("%w: record header of %d bytes, want %d", errWire, len(b), recordHeader)
	}
	seq = binary.BigEndian.Uint64(b[:8])
	l := binary.BigEndian.Uint32(b[8:12])
	if seq == 0 {
		return 0, 0, fmt.Errorf("%w: record 0 (records count from 1)", errWire)
	}
	if l > maxRecordSize {
		return 0, 0, fmt.Errorf("%w: record of %d bytes, at most %d", errWire, l, maxRecordSize)
	}
	return seq, int(l), nil
}
