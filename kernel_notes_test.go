package flatline

import (
	"errors"
	"testing"
)

func TestParseKernelVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want KernelVersion
		ok   bool
	}{
		{"6.18.44-fc-v782", KernelVersion{6, 18, 44}, true},
		{"5.10.0-32-amd64", KernelVersion{5, 10, 0}, true},
		{"5.10.0-32-amd64 (5.10.223)", KernelVersion{5, 10, 223}, true},
		{"6.1.0-40-amd64 (6.1.153)", KernelVersion{6, 1, 153}, true},
		{"6.12", KernelVersion{6, 12, 0}, true},
		{"", KernelVersion{}, false},
		{"linux", KernelVersion{}, false},
	} {
		got, ok := ParseKernelVersion(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseKernelVersion(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDistributionVersion(t *testing.T) {
	const debian = "Linux version 5.10.0-32-amd64 (debian-kernel@lists.debian.org) (gcc-10 (Debian 10.2.1-6) 10.2.1 20210110, GNU ld (GNU Binutils for Debian) 2.35.2) #1 SMP Debian 5.10.223-1 (2024-08-10)"
	if got := distributionVersion(debian); got != "5.10.223" {
		t.Errorf("distributionVersion(Debian 11) = %q, want 5.10.223", got)
	}
	if got := distributionVersion("Linux version 6.18.44 (root@x) (gcc 12) #1 SMP"); got != "" {
		t.Errorf("distributionVersion(upstream) = %q, want \"\"", got)
	}
}

// TestKernelNotes: the closed-window bound needs 5.11, 5.10.13 or 5.4.93.
func TestKernelNotes(t *testing.T) {
	for _, tc := range []struct {
		kernel string
		broken bool
	}{
		{"", false},
		{"5.4.92", true},
		{"5.4.93", false},
		{"5.10.0-9-amd64 (5.10.12)", true},
		{"5.10.0-32-amd64 (5.10.223)", false},
		{"5.10.12", true},
		{"5.10.13", false},
		{"5.9.16", true},
		{"5.11.0", false},
		{"6.1.0-40-amd64 (6.1.153)", false},
		{"4.19.0-27-amd64 (4.19.316)", true},
	} {
		h := Host{Kernel: tc.kernel}
		notes := KernelNotes(h)
		if got := len(notes) > 0; got != tc.broken {
			t.Errorf("KernelNotes(%q) = %q, want a note: %v", tc.kernel, notes, tc.broken)
		}
		err := (Config{Timeout: 30e9}).ValidateFor(h)
		if got := errors.Is(err, ErrNotSupported); got != tc.broken {
			t.Errorf("ValidateFor(%q) = %v, want ErrNotSupported: %v", tc.kernel, err, tc.broken)
		}
	}
	if err := (Config{Timeout: 1e9}).ValidateFor(Host{Kernel: "6.12.0"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("ValidateFor checks the Config first: got %v", err)
	}
}
