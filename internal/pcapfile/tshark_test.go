package pcapfile

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/go-cmp/cmp"
)

// oracleFiles are captures of every shape the reader takes: the writer's
// pcap, hand-built pcap in the other byte order, pcapng in both byte
// orders with several sections and interfaces, if_tsresol in powers of 10
// and 2, if_tsoffset, Enhanced, Obsolete and Simple Packet Blocks and
// blocks to skip.
func oracleFiles(t *testing.T) map[string][]byte {
	v4 := testutil.TCPFrame(netipAP("10.0.0.1:40000"), netipAP("10.0.1.1:80"), 1, 2, 0x10, 0)
	v6 := testutil.TCPFrame(netipAP("[fd00::1]:40000"), netipAP("[fd00::2]:443"), 7, 9, 0x12, 10)
	var pcap bytes.Buffer
	w, err := NewWriter(&pcap, 1, 1500)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1700000000, 999999999)
	for i := range 50 {
		data := [][]byte{v4, v6}[i%2]
		if err := w.WritePacket(start.Add(time.Duration(i)*1234567*time.Nanosecond), data, len(data)+i); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{
		"writer.pcap": pcap.Bytes(),
		"big-endian-micros.pcap": pcapFile(binary.BigEndian, 0xa1b2c3d4, 96, 101,
			record{1700000000, 999999, uint32(len(v4) - 14), 1500, v4[14:]},
			record{1700000001, 1, uint32(len(v6) - 14), uint32(len(v6) - 14), v6[14:]}),
	}
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		ng := testutil.NewPcapNG(order)
		ng.Interface(1, 0, -1, 0)
		ng.Interface(1, 0, 9, 0)
		ng.Interface(101, 0, 0x80|20, 3600)
		ng.EPB(0, 1700000000_000001, v4, len(v4))
		ng.Block(4, make([]byte, 4))  // a Name Resolution Block
		ng.Block(5, make([]byte, 12)) // an Interface Statistics Block
		ng.EPB(1, 1700000000_123456789, v6, 9000)
		ng.EPB(2, 1700000000<<20|12345, v4[14:], len(v4)-14)
		ng.OPB(1, 1700000001_000000001, v4, len(v4))
		ng.SPB(v6, len(v6))
		ng.Section()
		ng.Interface(1, 0, 6, 0)
		ng.EPB(0, 1700000002_500000, v4, len(v4))
		files[fmt.Sprintf("%v.pcapng", order)] = ng.Bytes()
	}
	return files
}

// TestTsharkAgrees reads captures with the Reader and with tshark, the
// independent oracle, and compares them packet for packet: time, length
// on the wire, captured length, interface, and an MD5 of the captured
// bytes. The files are oracleFiles and a capture dumpcap made.
func TestTsharkAgrees(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (apt-get install tshark): it is this test's oracle")
	}
	dir := t.TempDir()
	names := []string{"../../storm/testdata/loopback-keepalive.pcapng"}
	for name, data := range oracleFiles(t) {
		name = filepath.Join(dir, name)
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	for _, name := range names {
		agreeWithTshark(t, name)
	}
}

// agreeWithTshark reads the capture at name with the Reader and with
// tshark and fails t where they differ; it returns the packets read.
func agreeWithTshark(t *testing.T, name string) int {
	t.Helper()
	want := tsharkPackets(t, name)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	_, ps, err := readAll(t, data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	got := make([]string, len(ps))
	for i, p := range ps {
		got[i] = describe(p)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: tshark (-) and the Reader (+) differ:\n%s", filepath.Base(name), diff)
	}
	t.Logf("%s: %d packets agree", filepath.Base(name), len(got))
	return len(got)
}

// describe formats a packet as tshark's fields do: epoch time (empty for
// none), length, captured length, interface, MD5 of the data.
func describe(p Packet) string {
	ts := ""
	if !p.Timestamp.IsZero() {
		ts = fmt.Sprintf("%d.%09d", p.Timestamp.Unix(), p.Timestamp.Nanosecond())
	}
	sum := md5.Sum(p.Data)
	return strings.Join([]string{ts, fmt.Sprint(p.Length), fmt.Sprint(len(p.Data)), fmt.Sprint(p.Interface), hex.EncodeToString(sum[:])}, "\t")
}

func tsharkPackets(t *testing.T, name string) []string {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", name, "-o", "frame.generate_md5_hash:TRUE", "-T", "fields",
		"-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.interface_id", "-e", "frame.md5_hash").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", name, err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for i, l := range lines {
		// pcap has no interfaces: tshark leaves the field empty.
		if f := strings.Split(l, "\t"); len(f) == 5 && f[3] == "" {
			f[3] = "0"
			lines[i] = strings.Join(f, "\t")
		}
	}
	return lines
}
