package flatline

import (
	"errors"
	"testing"
)

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
