package kernel

import (
	"errors"
	"os"
	"testing"
)

func TestInNetNS(t *testing.T) {
	// The calling process's own namespace: entering it needs
	// CAP_SYS_ADMIN like any other.
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN) to enter a network namespace")
	}
	want := errors.New("from fn")
	ran := false
	err := InNetNS("/proc/self/ns/net", func() error {
		ran = true
		same, err := SameNetNS("/proc/self/ns/net")
		if err != nil || !same {
			t.Errorf("inside: same=%v, %v", same, err)
		}
		return want
	})
	if !ran || !errors.Is(err, want) {
		t.Errorf("ran=%v err=%v, want fn's error", ran, err)
	}
	if err := InNetNS("/nonexistent/ns", func() error { return nil }); err == nil {
		t.Error("missing namespace: want an error")
	}
}
