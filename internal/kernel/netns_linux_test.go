package kernel

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
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

// TestInNetNSGoexit: a function that ends its goroutine (what t.Fatal
// does when called inside) returns an error instead of hanging the
// caller.
func TestInNetNSGoexit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN) to enter a network namespace")
	}
	done := make(chan error, 1)
	go func() {
		done <- InNetNS("/proc/self/ns/net", func() error {
			runtime.Goexit()
			return nil
		})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "Goexit") {
			t.Errorf("InNetNS after runtime.Goexit in fn: %v, want an error that names Goexit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("InNetNS still waiting 10 s after fn called runtime.Goexit")
	}
}
