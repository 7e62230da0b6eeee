package cli

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestInspectNotRootSaysPermission: `flatline inspect --pid 1` run as
// nobody says that reading another user's process needs privilege, not
// that it is in another PID namespace.
func TestInspectNotRootSaysPermission(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the command as another user")
	}
	// nobody cannot reach the test binary in go test's private directory:
	// a copy in a directory it may read.
	dir, err := os.MkdirTemp("", "flatline-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin := filepath.Join(dir, "flatline.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	cmd := exec.Command(bin, "-test.run=^TestCLIHelperProcess$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), cliHelperEnv+"=inspect\n--pid\n1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if err == nil || !strings.Contains(stderr.String(), "needs root") || strings.Contains(stderr.String(), "PID namespace") {
		t.Errorf("inspect --pid 1 as nobody: %v, stderr %q; want a failure that says root is needed", err, stderr.String())
	}
}
