package pcapfile

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestWriterRoundTrip(t *testing.T) {
	want := []Packet{
		{Timestamp: time.Unix(0, 0), LinkType: 1, Length: 60, Data: []byte{1, 2, 3}},
		{Timestamp: time.Unix(1700000000, 123456789), LinkType: 1, Length: 3, Data: []byte{4, 5, 6}},
		{Timestamp: time.Unix(1<<32-1, 999999999), LinkType: 1, Length: 0, Data: nil},
		{Timestamp: time.Unix(1800000000, 1), LinkType: 1, Length: 100, Data: bytes.Repeat([]byte{7}, 100)},
	}
	var b bytes.Buffer
	w, err := NewWriter(&b, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range want {
		if err := w.WritePacket(p.Timestamp, p.Data, p.Length); err != nil {
			t.Fatal(err)
		}
	}
	r, got, err := readAll(t, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want[0].Length = 60
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if r.SnapLen() != 100 || r.LinkType() != 1 {
		t.Errorf("snap length %d, link type %d; want 100, 1", r.SnapLen(), r.LinkType())
	}
}

func TestWriterErrors(t *testing.T) {
	for _, snap := range []int{0, -1, MaxPacket + 1} {
		if _, err := NewWriter(&bytes.Buffer{}, 1, snap); err == nil {
			t.Errorf("snap length %d: no error", snap)
		}
	}
	if _, err := NewWriter(&bytes.Buffer{}, -1, 10); err == nil {
		t.Error("link type -1: no error")
	}
	w, err := NewWriter(&bytes.Buffer{}, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	tests := []struct {
		name   string
		ts     time.Time
		data   []byte
		length int
	}{
		{"over the snap length", now, make([]byte, 11), 11},
		{"shorter on the wire than captured", now, make([]byte, 5), 4},
		{"before 1970", time.Unix(-1, 0), nil, 0},
		{"after 2106", time.Unix(1<<32, 0), nil, 0},
	}
	for _, tt := range tests {
		if err := w.WritePacket(tt.ts, tt.data, tt.length); err == nil {
			t.Errorf("%s: no error", tt.name)
		} else {
			t.Logf("%s: %v", tt.name, err)
		}
	}
}
