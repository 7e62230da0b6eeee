package liveness

import (
	"errors"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, f := range []frame{
		{kind: kindPing, seq: 1, beats: 0},
		{kind: kindPong, seq: 1<<32 - 1, beats: 1<<64 - 1},
	} {
		b := make([]byte, frameSize)
		f.encode(b)
		got, err := decodeFrame(b)
		if err != nil || got != f {
			t.Errorf("decode(encode(%+v)) = %+v, %v", f, got, err)
		}
	}
}

func TestDecodeFrameRejects(t *testing.T) {
	good := make([]byte, frameSize)
	frame{kind: kindPing, seq: 7}.encode(good)
	mutate := func(i int, v byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = v
		return b
	}
	for name, b := range map[string][]byte{
		"short":    good[:15],
		"long":     append(append([]byte(nil), good...), 0),
		"version":  mutate(0, 2),
		"kind":     mutate(1, 3),
		"reserved": mutate(3, 1),
		"http":     []byte("GET / HTTP/1.1\r\n"),
	} {
		if _, err := decodeFrame(b); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: decodeFrame(%q) = %v, want ErrBadFrame", name, b, err)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	b := make([]byte, frameSize)
	frame{kind: kindPong, seq: 3, beats: 9}.encode(b)
	f.Add(b)
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		fr, err := decodeFrame(in)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not match ErrBadFrame", err)
			}
			return
		}
		out := make([]byte, frameSize)
		fr.encode(out)
		if string(out) != string(in) {
			t.Fatalf("re-encoded %x, decoded from %x", out, in)
		}
	})
}
