package liveness

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The wire format: fixed 16-byte frames, big endian.
//
//	0      version (1)
//	1      kind: 1 ping, 2 pong
//	2..3   zero
//	4..7   sequence number: a pong echoes its ping's
//	8..15  beats: how many times the sender's work loop called Beat
const (
	frameSize    = 16
	frameVersion = 1
)

// Frame kinds.
const (
	kindPing = 1
	kindPong = 2
)

// ErrBadFrame matches a frame that is not a liveness frame: the other end
// does not speak this protocol (or the connection carries other data).
var ErrBadFrame = errors.New("liveness: bad frame")

// frame is one decoded frame.
type frame struct {
	kind  byte
	seq   uint32
	beats uint64
}

// encode writes f into b, which holds at least frameSize bytes.
func (f frame) encode(b []byte) {
	_ = b[frameSize-1]
	b[0], b[1], b[2], b[3] = frameVersion, f.kind, 0, 0
	binary.BigEndian.PutUint32(b[4:8], f.seq)
	binary.BigEndian.PutUint64(b[8:16], f.beats)
}

// decodeFrame decodes one frame from b.
func decodeFrame(b []byte) (frame, error) {
	if len(b) != frameSize {
		return frame{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadFrame, len(b), frameSize)
	}
	if b[0] != frameVersion {
		return frame{}, fmt.Errorf("%w: version %d, want %d", ErrBadFrame, b[0], frameVersion)
	}
	if b[1] != kindPing && b[1] != kindPong {
		return frame{}, fmt.Errorf("%w: kind %d, want 1 (ping) or 2 (pong)", ErrBadFrame, b[1])
	}
	if b[2] != 0 || b[3] != 0 {
		return frame{}, fmt.Errorf("%w: reserved bytes %#x %#x, want zero", ErrBadFrame, b[2], b[3])
	}
	return frame{
		kind:  b[1],
		seq:   binary.BigEndian.Uint32(b[4:8]),
		beats: binary.BigEndian.Uint64(b[8:16]),
	}, nil
}
