package cgroup2

import (
	"bytes"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"hybrid", "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
			"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
			"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup/unified", true},
		{"unified, optional fields", "29 22 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n", "/sys/fs/cgroup", true},
		{"escaped space", `41 31 0:38 / /mnt/cg\0402 rw - cgroup2 none rw` + "\n", "/mnt/cg 2", true},
		{"v1 only", "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n", "", false},
		{"empty", "", "", false},
		{"truncated", "41 31 0:38 - cgroup2\n", "", false},
	}
	for _, tt := range tests {
		got, ok := ParseMountinfo([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: ParseMountinfo = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte("41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"))
	f.Add([]byte(`1 2 0:1 / /a\134b\040 rw - cgroup2 x rw`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := ParseMountinfo(b)
		if ok && (m == "" || !bytes.Contains(b, []byte("cgroup2"))) {
			t.Fatalf("ParseMountinfo(%q) = %q without a cgroup2 line", b, m)
		}
		if !ok && m != "" {
			t.Fatalf("ParseMountinfo(%q) = %q, false", b, m)
		}
	})
}
