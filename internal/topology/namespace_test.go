package topology

import (
	"errors"
	"strconv"
	"testing"

	"github.com/flatline-dev/flatline"
	"github.com/google/go-cmp/cmp"
)

func itoa(i int) string { return strconv.Itoa(i) }

func TestNsOwner(t *testing.T) {
	type result struct {
		PID int
		OK  bool
	}
	for _, tt := range []struct {
		name string
		want result
	}{
		{"flt-1234-9f3a2c-cli", result{1234, true}},
		{"flt-1-x-srv", result{1, true}},
		{"flt-0-x-srv", result{0, false}},
		{"flt--x-srv", result{0, false}},
		{"flt-abc-x-srv", result{0, false}},
		{"flt-1234", result{0, false}},
		{"docker-1234-x", result{0, false}},
		{"cni-1234-x", result{0, false}},
		{"", result{0, false}},
	} {
		pid, ok := nsOwner(tt.name)
		if diff := cmp.Diff(tt.want, result{pid, ok}); diff != "" {
			t.Errorf("nsOwner(%q) mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

// FuzzNsOwner checks that nsOwner never panics and only claims names that
// carry the lab's prefix and a positive PID.
func FuzzNsOwner(f *testing.F) {
	for _, s := range []string{"flt-1234-9f3a2c-cli", "flt--", "flt-99999999999999999999-x", "cni-1-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		pid, ok := nsOwner(name)
		if ok && (pid <= 0 || len(name) < len(Prefix) || name[:len(Prefix)] != Prefix) {
			t.Errorf("nsOwner(%q) = %d, true: not a lab name", name, pid)
		}
	})
}

func TestUnsupportedErrorIs(t *testing.T) {
	err := error(&UnsupportedError{Feature: "root"})
	for _, target := range []error{ErrNotSupported, flatline.ErrNotSupported} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false, want true", err, target)
		}
	}
}
