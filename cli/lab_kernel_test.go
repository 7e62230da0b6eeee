package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabKernelBadInput: a --kernel that names no kernel fails before
// anything is fetched or booted, saying what to use.
func TestLabKernelBadInput(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("lab --kernel checks for root first")
	}
	notImage := filepath.Join(t.TempDir(), "vmlinuz")
	os.WriteFile(notImage, []byte("not a kernel"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"lab", "--kernel", "4.19", "--quick"}, 2, "use one of 5.10, 6.1, 6.12"},
		{[]string{"lab", "--kernel", "6.1", "--modules", "/tmp"}, 2, "--modules goes with a kernel image path"},
		{[]string{"lab", "--kernel", notImage}, 1, "not an x86 bzImage"},
		{[]string{"lab", "--kernel", "/nonexistent/vmlinuz"}, 1, "no such file"},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(tc.args, nil, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}
