package topology

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/flatline-dev/flatline/internal/kernel"
)

func TestCPUMask(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{
		{0, "00000001"}, {1, "00000001"}, {2, "00000003"}, {32, "ffffffff"}, {33, "00000001,ffffffff"}, {70, "0000003f,ffffffff,ffffffff"},
	} {
		if got := cpuMask(tt.n); got != tt.want {
			t.Errorf("cpuMask(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestIntegrationRouterOnAllCPUs: both router links steer to every CPU,
// read back through the router's own sysfs; the host sees no sysfs mount
// of flatline's and no directory left (the sysfs was mounted in a mount
// namespace of its own).
func TestIntegrationRouterOnAllCPUs(t *testing.T) {
	topo := newTestTopology(t)
	if err := topo.RouterOnAllCPUs(); err != nil {
		t.Fatal(err)
	}
	want := cpuMask(runtime.NumCPU())
	err := kernel.InNetNSSysfs(topo.Router.Path, func(sys string) error {
		for _, link := range []string{RouterClientLink, RouterServerLink} {
			b, err := os.ReadFile(filepath.Join(sys, "class", "net", link, "queues", "rx-0", "rps_cpus"))
			if err != nil {
				return err
			}
			// The kernel prints the mask without leading zeros.
			if got := strings.TrimLeft(strings.ReplaceAll(strings.TrimSpace(string(b)), ",", ""), "0"); got != strings.TrimLeft(strings.ReplaceAll(want, ",", ""), "0") {
				t.Errorf("%s: rps_cpus %q, want %q", link, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), "flatline-sysfs-") {
		t.Errorf("a flatline sysfs mount is visible on the host:\n%s", mounts)
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "flatline-sysfs-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
