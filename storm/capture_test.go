package storm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/pcapfile"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

var equateAddrPort = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

var (
	cliAP = netip.MustParseAddrPort("10.0.0.1:40000")
	srvAP = netip.MustParseAddrPort("10.0.1.1:80")
	out   = Flow{Src: cliAP, Dst: srvAP}
	in    = out.Reverse()
)

// frame builds an Ethernet/IPv4 (or IPv6)/TCP frame.
func frame(t testing.TB, f Flow, seq, ack uint32, flags uint8, payload int) []byte {
	t.Helper()
	return testutil.TCPFrame(f.Src, f.Dst, seq, ack, flags, payload)
}

type pkt struct {
	f          Flow
	seq, ack   uint32
	flags      uint8
	len        int
	keepalive  bool // what Wireshark says
	offsetMsec int
}

// conversation is a connection with data, Linux (0 byte) and Windows (1
// byte) keepalives, their answers, a retransmission and a close.
func conversation(c, s Flow) []pkt {
	const A, S = FlagACK, FlagSYN
	return []pkt{
		{c, 1000, 0, S, 0, false, 0},
		{s, 5000, 1001, S | A, 0, false, 1},
		{c, 1001, 5001, A, 0, false, 2},
		{c, 1001, 5001, A, 100, false, 3},   // data
		{s, 5001, 1101, A, 0, false, 4},     // its ACK
		{c, 1100, 5001, A, 0, true, 3000},   // Linux keepalive: snd_una-1, no data
		{s, 5001, 1101, A, 0, false, 3001},  // answer (keep_alive_ack, not a probe)
		{c, 1100, 5001, A, 1, true, 6000},   // Windows keepalive: 1 byte
		{s, 5000, 1101, A, 0, true, 6001},   // server probes too
		{c, 1101, 5001, A, 0, false, 6002},  // answer
		{c, 1101, 5001, A, 50, false, 7000}, // data
		{c, 1101, 5001, A, 50, false, 7200}, // retransmission: not a keepalive
		{c, 1150, 5001, A, 0, true, 9000},   // keepalive after more data
		{c, 1151, 5001, A | FlagFIN, 0, false, 9500},
	}
}

// writePcap writes pkts as a pcap file (nanosecond timestamps) or as a
// pcapng one (one Ethernet interface, microsecond timestamps).
func writePcap(t testing.TB, pkts []pkt, ng bool) []byte {
	t.Helper()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if ng {
		w := testutil.NewPcapNG(binary.LittleEndian)
		w.Interface(LinkEthernet, 0, -1, 0)
		for _, p := range pkts {
			data := frame(t, p.f, p.seq, p.ack, p.flags, p.len)
			w.EPB(0, uint64(start.Add(time.Duration(p.offsetMsec)*time.Millisecond).UnixMicro()), data, len(data))
		}
		return w.Bytes()
	}
	var b bytes.Buffer
	w, err := pcapfile.NewWriter(&b, LinkEthernet, 65535)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		data := frame(t, p.f, p.seq, p.ack, p.flags, p.len)
		if err := w.WritePacket(start.Add(time.Duration(p.offsetMsec)*time.Millisecond), data, len(data)); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestDetector(t *testing.T) {
	var d Detector
	for i, p := range conversation(out, in) {
		got := d.Keepalive(Segment{Flow: p.f, Seq: p.seq, Ack: p.ack, Flags: p.flags, Len: p.len})
		if got != p.keepalive {
			t.Errorf("packet %d (%s seq %d len %d): keepalive = %v, want %v", i, p.f, p.seq, p.len, got, p.keepalive)
		}
	}
}

func TestDecodeSegment(t *testing.T) {
	v6 := Flow{Src: netip.MustParseAddrPort("[fd00::1]:40000"), Dst: netip.MustParseAddrPort("[fd00::2]:443")}
	eth4 := frame(t, out, 7, 9, FlagACK, 1)
	eth6 := frame(t, v6, 7, 9, FlagACK|FlagSYN, 0)
	sll := append([]byte{0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00}, eth4[14:]...)
	raw := eth4[14:]
	vlan := append(append(append([]byte{}, eth4[:12]...), 0x81, 0x00, 0, 5, 0x08, 0x00), eth4[14:]...)
	snapped := eth4[:len(eth4)-1] // the payload byte cut off by the snap length
	tests := []struct {
		name    string
		link    int
		data    []byte
		want    Segment
		wantErr error
	}{
		{"ethernet ipv4", LinkEthernet, eth4, Segment{Flow: out, Seq: 7, Ack: 9, Flags: FlagACK, Len: 1}, nil},
		{"ethernet ipv6", LinkEthernet, eth6, Segment{Flow: v6, Seq: 7, Ack: 9, Flags: FlagACK | FlagSYN, Len: 0}, nil},
		{"linux sll", LinkLinuxSLL, sll, Segment{Flow: out, Seq: 7, Ack: 9, Flags: FlagACK, Len: 1}, nil},
		{"raw", LinkRaw, raw, Segment{Flow: out, Seq: 7, Ack: 9, Flags: FlagACK, Len: 1}, nil},
		{"vlan", LinkEthernet, vlan, Segment{Flow: out, Seq: 7, Ack: 9, Flags: FlagACK, Len: 1}, nil},
		{"snap length", LinkEthernet, snapped, Segment{Flow: out, Seq: 7, Ack: 9, Flags: FlagACK, Len: 1}, nil},
		{"short ethernet", LinkEthernet, eth4[:10], Segment{}, ErrTruncated},
		{"short tcp", LinkEthernet, eth4[:40], Segment{}, ErrTruncated},
		{"arp", LinkEthernet, append(append([]byte{}, eth4[:12]...), 0x08, 0x06), Segment{}, ErrNotTCP},
		{"unknown link", 9999, eth4, Segment{}, ErrNotTCP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSegment(tt.link, tt.data)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, equateAddrPort); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadCapture(t *testing.T) {
	pkts := append(conversation(out, in), conversation(
		Flow{Src: netip.MustParseAddrPort("10.0.0.1:40001"), Dst: srvAP},
		Flow{Src: srvAP, Dst: netip.MustParseAddrPort("10.0.0.1:40001")})...)
	for _, ng := range []bool{false, true} {
		t.Run(map[bool]string{false: "pcap", true: "pcapng"}[ng], func(t *testing.T) {
			data := writePcap(t, pkts, ng)
			c, err := ReadCapture(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			r := c.Analyze(4*time.Millisecond, time.Second)
			got := struct{ Frames, Segments, Probes, Flows, Worst, Groups int }{r.Frames, r.Segments, r.Probes, r.Flows, r.WorstBurst, len(r.Lockstep)}
			want := struct{ Frames, Segments, Probes, Flows, Worst, Groups int }{28, 28, 8, 4, 4, 1} // 4: both clients and both servers probe at 6.000-6.001 s
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// The two clients probe in lockstep (same times); the servers
			// probe once each, too few to call a phase.
			if len(r.Lockstep) == 1 && len(r.Lockstep[0]) != 2 {
				t.Errorf("lockstep = %v, want the two client flows", r.Lockstep)
			}
			// Cut inside the last record: earlier probes still count.
			c2, err := ReadCapture(bytes.NewReader(data[:len(data)-10]))
			if err != nil {
				t.Fatal(err)
			}
			if !c2.Truncated || len(c2.Probes) != 8 || !errors.Is(c2.Stop, pcapfile.ErrTruncated) {
				t.Errorf("truncated file: truncated=%v probes=%d stop=%v, want true, 8, ErrTruncated", c2.Truncated, len(c2.Probes), c2.Stop)
			}
		})
	}
	if _, err := ReadCapture(strings.NewReader("hello world, not a capture")); !errors.Is(err, ErrNotCapture) {
		t.Errorf("text file: %v, want ErrNotCapture", err)
	}
}

// TestTsharkAgrees counts keepalives with tshark on the same files when
// tshark is installed: the independent oracle.
func TestTsharkAgrees(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (apt-get install tshark)")
	}
	pkts := append(conversation(out, in), conversation(
		Flow{Src: netip.MustParseAddrPort("[fd00::1]:40001"), Dst: netip.MustParseAddrPort("[fd00::2]:80")},
		Flow{Src: netip.MustParseAddrPort("[fd00::2]:80"), Dst: netip.MustParseAddrPort("[fd00::1]:40001")})...)
	for _, ng := range []bool{false, true} {
		name := filepath.Join(t.TempDir(), "c.pcap")
		if err := os.WriteFile(name, writePcap(t, pkts, ng), 0o600); err != nil {
			t.Fatal(err)
		}
		c, want := readWithTshark(t, name)
		if len(c.Probes) != want {
			t.Errorf("ng=%v: %d probes, tshark counts %d", ng, len(c.Probes), want)
		}
	}
	// A capture made by dumpcap, not by this package.
	const real = "testdata/loopback-keepalive.pcapng"
	c, want := readWithTshark(t, real)
	if len(c.Probes) != want {
		t.Errorf("%s: %d probes, tshark counts %d", real, len(c.Probes), want)
	}
}

// readWithTshark reads the capture at name with ReadCapture and counts its
// keepalives with tshark, the independent oracle.
func readWithTshark(t *testing.T, name string) (*Capture, int) {
	t.Helper()
	want, err := testutil.TsharkKeepalives(name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ReadCapture(f)
	if err != nil {
		t.Fatal(err)
	}
	return c, want
}
