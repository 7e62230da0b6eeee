package vm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// FlatlineBinary returns a statically linked flatline binary for the
// guest: exe itself when it is static, else one built with CGO_ENABLED=0
// from the module in the working directory into cacheDir. Without
// either it says how to build one.
func FlatlineBinary(ctx context.Context, exe, cacheDir string) (string, error) {
	if ok, err := Static(exe); err == nil && ok {
		return exe, nil
	}
	out := filepath.Join(cacheDir, "flatline-static")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("vm: %w", err)
	}
	_, err := buildStatic(ctx, out, "github.com/flatline-dev/flatline/cmd/flatline")
	if err != nil {
		if dir := sourceRoot(); dir != "" {
			// Built from a checkout still on disk: build there.
			_, err = goToolIn(ctx, dir, "build", "-o", out, "./cmd/flatline")
		}
	}
	if err != nil {
		return "", fmt.Errorf("vm: %s is dynamically linked and the guest has no C library; build flatline with CGO_ENABLED=0 go build ./cmd/flatline (building it here failed: %v)", exe, err)
	}
	return out, nil
}

// TestBinary builds the test binary of package pkg (an import path or a
// ./dir of the module in the working directory), statically linked, into
// out.
func TestBinary(ctx context.Context, out, pkg string) error {
	_, err := goTool(ctx, "test", "-c", "-o", out, pkg)
	return err
}

func buildStatic(ctx context.Context, out, pkg string) ([]byte, error) {
	return goTool(ctx, "build", "-o", out, pkg)
}

// Build builds package pkg (an import path or a ./dir of the module in
// the working directory), statically linked, into out.
func Build(ctx context.Context, out, pkg string) error {
	_, err := buildStatic(ctx, out, pkg)
	return err
}

// goTool runs the go command with CGO_ENABLED=0.
func goTool(ctx context.Context, args ...string) ([]byte, error) {
	return goToolIn(ctx, "", args...)
}

// sourceRoot is the module root of the checkout this binary was built
// from (the path of this source file, recorded unless built with
// -trimpath), "" if it is not on disk.
func sourceRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	dir := filepath.Dir(filepath.Dir(filepath.Dir(file))) // internal/vm/binary.go
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || !strings.Contains(string(b), "module github.com/flatline-dev/flatline\n") {
		return ""
	}
	return dir
}

func goToolIn(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("vm: go %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}
