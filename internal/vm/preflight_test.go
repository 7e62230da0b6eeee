package vm

import (
	"errors"
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPreflight: every missing program is named at once, with the one
// command that installs their packages; a dynamically linked busybox
// counts as missing.
func TestPreflight(t *testing.T) {
	tests := []struct {
		name    string
		have    map[string]bool // program -> statically linked
		fetch   bool
		want    string
		missing bool
	}{
		{"fresh machine", map[string]bool{"apt-get": false, "dpkg-deb": false}, true,
			"vm: missing qemu-system-x86_64 (boots the kernel), busybox (the guest's init and shell, statically linked); install them with: apt-get install --no-install-recommends qemu-system-x86 busybox-static", true},
		{"dynamic busybox", map[string]bool{"qemu-system-x86_64": false, "busybox": false}, false,
			"vm: missing busybox (the guest's init and shell, statically linked); install them with: apt-get install --no-install-recommends busybox-static", true},
		{"everything", map[string]bool{"qemu-system-x86_64": false, "busybox": true, "apt-get": false, "dpkg-deb": false}, true, "", false},
	}
	for _, tt := range tests {
		look := func(p string) (string, error) {
			if _, ok := tt.have[p]; ok {
				return p, nil
			}
			return "", exec.ErrNotFound
		}
		static := func(p string) (bool, error) { return tt.have[p], nil }
		err := preflight(tools(tt.fetch), look, static)
		if errors.Is(err, ErrMissing) != tt.missing {
			t.Errorf("%s: %v, want missing %v", tt.name, err, tt.missing)
			continue
		}
		if err == nil {
			continue
		}
		if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
