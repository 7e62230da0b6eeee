package storm

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDecodeSegment: any bytes under any link type decode or fail with an
// error, never panic, and a decoded payload length is never negative.
func FuzzDecodeSegment(f *testing.F) {
	f.Add(LinkEthernet, frame(f, out, 1, 2, FlagACK, 0))
	f.Add(LinkRaw, frame(f, out, 1, 2, FlagACK, 1)[14:])
	f.Add(LinkLinuxSLL, append(make([]byte, 14), 0x86, 0xdd))
	f.Add(LinkNull, []byte{2, 0, 0, 0, 0x45})
	f.Fuzz(func(t *testing.T, link int, data []byte) {
		s, err := DecodeSegment(link, data)
		if err == nil && s.Len < 0 {
			t.Fatalf("negative payload length %d", s.Len)
		}
	})
}

// FuzzReadCapture: malformed pcap and pcapng files are rejected or read
// partly, never panic, and the analysis of what was read is consistent.
func FuzzReadCapture(f *testing.F) {
	f.Add(writePcap(f, conversation(out, in), false))
	f.Add(writePcap(f, conversation(out, in), true))
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1})
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		c, err := ReadCapture(bytes.NewReader(data))
		if err != nil {
			return
		}
		r := c.Analyze(0, 0)
		if r.Probes != len(c.Probes) || r.WorstBurst > r.Probes || r.Flows > r.Probes || r.Segments > r.Frames {
			t.Fatalf("inconsistent report %+v", r)
		}
		sum := 0
		for _, h := range r.Histogram {
			sum += h
		}
		if sum > r.Probes {
			t.Fatalf("histogram holds %d probes of %d", sum, r.Probes)
		}
	})
}

// FuzzParsers: the softnet decoder never panics (the kernel config and
// timer list decoders are fuzzed with the kernel model).
func FuzzParsers(f *testing.F) {
	f.Add("0019333e 00002287 00000000\n")
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = ParseSoftnetDrops(strings.NewReader(in))
	})
}
