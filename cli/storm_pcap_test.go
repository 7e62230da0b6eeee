package cli

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/pcapfile"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

// writeKeepaliveCapture writes a pcap with n connections that each send
// one data byte and then three Linux keepalive probes, all connections in
// the same millisecond.
func writeKeepaliveCapture(t *testing.T, n int) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "ka.pcap")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcapfile.NewWriter(f, 1, 65535) // Ethernet
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddrPort("10.0.1.1:80")
	put := func(at time.Duration, port uint16, seq uint32, payload int) {
		data := testutil.TCPFrame(netip.AddrPortFrom(src, port), dst, seq, 1, 0x10, payload) // ACK
		if err := w.WritePacket(start.Add(at), data, len(data)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		put(time.Duration(i)*time.Microsecond, uint16(40000+i), 100, 1)
	}
	for k := 1; k <= 3; k++ {
		for i := range n {
			put(time.Duration(k)*3*time.Second+time.Duration(i)*time.Microsecond, uint16(40000+i), 100, 0)
		}
	}
	return name
}

func TestPcapJSON(t *testing.T) {
	name := writeKeepaliveCapture(t, 5)
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"pcap", "--json", name}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got struct {
		Probes     int        `json:"probes"`
		Flows      int        `json:"flows"`
		WorstBurst int        `json:"worst_burst"`
		Lockstep   [][]string `json:"lockstep"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, stdout.String())
	}
	want := struct {
		Probes, Flows, WorstBurst, Groups, GroupSize int
	}{15, 5, 5, 1, 5}
	g := struct {
		Probes, Flows, WorstBurst, Groups, GroupSize int
	}{got.Probes, got.Flows, got.WorstBurst, len(got.Lockstep), 0}
	if len(got.Lockstep) > 0 {
		g.GroupSize = len(got.Lockstep[0])
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPcapTable(t *testing.T) {
	name := writeKeepaliveCapture(t, 3)
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"pcap", name}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, s := range []string{"keepalive probes: 9 from 3 flows", "worst burst: 3 probes", "in lockstep (every probe within 4ms): 1"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, stdout.String())
		}
	}
}

// TestPcapTruncated: a capture cut inside a record is read up to the cut,
// and the table says where it stopped.
func TestPcapTruncated(t *testing.T) {
	name := writeKeepaliveCapture(t, 3)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data[:len(data)-5], 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"pcap", name}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, s := range []string{"11 frames", "file cut short (pcapfile: file ends inside a record: packet data at byte", "keepalive probes: 8 from 3 flows"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, stdout.String())
		}
	}
}

func TestPcapErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("not a capture"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"pcap"}, 2},
		{[]string{"pcap", "--window", "0", bad}, 2},
		{[]string{"pcap", bad}, 1},
		{[]string{"pcap", filepath.Join(t.TempDir(), "missing")}, 1},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if got := Run(tt.args, nil, &stdout, &stderr); got != tt.code {
			t.Errorf("%v: exit %d, want %d (%s)", tt.args, got, tt.code, stderr.String())
		}
	}
}
