package storm

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/pcapfile"
	"github.com/flatline-dev/flatline/internal/testutil"
)

// benchCapture writes a pcap of conns connections, each with a data
// exchange and probes keepalive probes with their answers: 2+4·probes
// frames per connection.
func benchCapture(b *testing.B, conns, probes int) (string, int) {
	b.Helper()
	var buf bytes.Buffer
	w, err := pcapfile.NewWriter(&buf, LinkEthernet, pcapfile.MaxPacket)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	frames := 0
	put := func(at time.Duration, f Flow, seq, ack uint32, n int) {
		data := frame(b, f, seq, ack, FlagACK, n)
		if err := w.WritePacket(start.Add(at), data, len(data)); err != nil {
			b.Fatal(err)
		}
		frames++
	}
	for i := range conns {
		c := Flow{Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 40000), Dst: srvAP}
		s := c.Reverse()
		at := time.Duration(i) * time.Microsecond
		put(at, c, 1000, 5000, 10)
		put(at+time.Microsecond, s, 5000, 1010, 0)
		for k := 1; k <= probes; k++ {
			t := at + time.Duration(k)*3*time.Second
			put(t, c, 1009, 5000, 0)
			put(t+time.Microsecond, s, 5000, 1010, 0)
			put(t+2*time.Microsecond, s, 4999, 1010, 0)
			put(t+3*time.Microsecond, c, 1010, 5000, 0)
		}
	}
	name := filepath.Join(b.TempDir(), "bench.pcap")
	if err := os.WriteFile(name, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return name, frames
}

// BenchmarkPcap compares packets per second of ReadCapture (what
// `flatline pcap` does) with tshark -Y tcp.analysis.keep_alive on the same
// file, when tshark is installed.
func BenchmarkPcap(b *testing.B) {
	name, frames := benchCapture(b, 2000, 25)
	data, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("flatline", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var probes int
		for b.Loop() {
			c, err := ReadCapture(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			probes = len(c.Probes)
		}
		b.ReportMetric(float64(frames)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		b.ReportMetric(float64(probes), "probes")
	})
	b.Run("tshark", func(b *testing.B) {
		if _, err := exec.LookPath("tshark"); err != nil {
			b.Skip("tshark not installed")
		}
		b.SetBytes(int64(len(data)))
		var probes int
		for b.Loop() {
			n, err := testutil.TsharkKeepalives(name)
			if err != nil {
				b.Fatal(err)
			}
			probes = n
		}
		b.ReportMetric(float64(frames)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		b.ReportMetric(float64(probes), "probes")
	})
}
