package flatline

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestReadHostFixture reads a Debian 11 host laid out under testdata: no
// tcp_syn_linear_timeouts (5.10 lacks it), HZ from boot/config-RELEASE,
// the upstream version from proc/version.
func TestReadHostFixture(t *testing.T) {
	got, err := ReadHost("testdata/host-debian11")
	if err != nil {
		t.Fatal(err)
	}
	want := Host{
		Retries2: 15, SynRetries: 6, KeepaliveTime: 2 * time.Hour, KeepaliveIntvl: 75 * time.Second, KeepaliveProbes: 9,
		HZ: 250, Kernel: "5.10.0-32-amd64 (5.10.223)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadHost (-want +got):\n%s", diff)
	}
}

// TestReadHostErrors: a malformed sysctl is an *OpError naming it; a
// missing directory says which file it could not read.
func TestReadHostErrors(t *testing.T) {
	_, err := ReadHost("testdata/host-bad")
	var oe *OpError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "tcp_retries2") || !strings.Contains(err.Error(), `"fifteen"`) {
		t.Errorf("malformed sysctl: got %v, want an *OpError naming tcp_retries2 and its value", err)
	}
	_, err = ReadHost("testdata/no-such-root")
	if !errors.Is(err, os.ErrNotExist) || !errors.As(err, &oe) {
		t.Errorf("missing root: got %v, want an *OpError matching os.ErrNotExist", err)
	}
}
