package diag

import "testing"

func TestParseSockstatTCP(t *testing.T) {
	for _, tt := range []struct {
		in, proto string
		want      int
		ok        bool
	}{
		{"sockets: used 17\nTCP: inuse 2 orphan 0 tw 3 alloc 20006 mem 221\nUDP: inuse 0 mem 0\n", "TCP", 5, true},
		{"TCP: inuse 0 orphan 0 tw 0 alloc 9 mem 0\n", "TCP", 0, true},
		{"TCP6: inuse 4\nUDP6: inuse 0\n", "TCP6", 4, true},
		{"TCP6: inuse 4\n", "TCP", 0, false},
		{"TCP: inuse 99999999999 tw 99999999999\n", "TCP", 2 << 30, true}, // bounded, no overflow
		{"TCP: inuse -1 tw 0\n", "TCP", 0, false},
		{"TCP: inuse x tw 0\n", "TCP", 0, false},
		{"UDP: inuse 3 mem 0\n", "TCP", 0, false},
		{"", "TCP", 0, false},
	} {
		got, ok := parseSockstatTCP([]byte(tt.in), tt.proto)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSockstatTCP(%q, %s) = %d, %v; want %d, %v", tt.in, tt.proto, got, ok, tt.want, tt.ok)
		}
	}
}
