package deploy

import (
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// TestIntegrationImage builds the image as the Containerfile says
// (CGO_ENABLED=0 go build -o flatline ./cmd/flatline in the repository's
// root, then podman build -f Containerfile, offline), mounts its root file
// system (podman image mount: podman cannot run containers on every host)
// and runs the binary from there: `plan`, and the DaemonSet's own
// arguments with --help, so that a flag the binary does not know fails
// here and not on a node. The image is removed afterwards.
func TestIntegrationImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for podman's storage")
	}
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skipf("podman not installed (apt-get install podman): %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "flatline")); os.IsNotExist(err) {
		t.Cleanup(func() { os.Remove(filepath.Join(root, "flatline")) }) // leave the root as it was
	}
	build := exec.Command("go", "build", "-o", "flatline", "./cmd/flatline")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	checkStatic(t, filepath.Join(root, "flatline"))

	var rnd [4]byte
	rand.Read(rnd[:])
	tag := "localhost/flatline-test:" + hex.EncodeToString(rnd[:])
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(podman, args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return strings.TrimSpace(string(out))
	}
	run("build", "--network=none", "--pull=never", "-f", "Containerfile", "-t", tag, ".")
	t.Cleanup(func() { exec.Command(podman, "rmi", "--force", tag).Run() })

	var inspect []struct {
		Config struct{ Entrypoint []string }
	}
	if err := json.Unmarshal([]byte(run("image", "inspect", tag)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	if ep := inspect[0].Config.Entrypoint; len(ep) != 1 || ep[0] != "/flatline" {
		t.Errorf("entrypoint %q, want [/flatline]", ep)
	}
	mnt := run("image", "mount", tag)
	t.Cleanup(func() { exec.Command(podman, "image", "unmount", tag).Run() })
	entries, err := os.ReadDir(mnt)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "flatline" {
		t.Errorf("the image holds %v, want only /flatline", entries)
	}
	bin := filepath.Join(mnt, "flatline")
	if out, err := exec.Command(bin, "plan", "--json").Output(); err != nil || !strings.Contains(string(out), `"settings"`) {
		t.Errorf("the image's flatline plan --json: %v\n%s", err, out)
	}
	for _, o := range decode(t, "kubernetes") {
		ds, ok := o.(*appsv1.DaemonSet)
		if !ok {
			continue
		}
		for _, c := range ds.Spec.Template.Spec.Containers {
			args := append(append([]string{}, c.Args...), "--help")
			if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
				t.Errorf("DaemonSet %s's arguments %q with the image's binary: %v\n%s", ds.Name, c.Args, err, out)
			}
		}
	}
}

// checkStatic fails the test if path is not a statically linked ELF
// binary: FROM scratch has no dynamic loader.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked: the scratch image has no loader (build with CGO_ENABLED=0)", path)
		}
	}
}
