package lab

import (
	"strconv"
	"testing"

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
