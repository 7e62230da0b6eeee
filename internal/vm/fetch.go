package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

// DefaultCacheDir holds fetched kernels, outside any repository.
const DefaultCacheDir = "/var/cache/flatline"

// AptDir is where the machine's apt configuration lives.
const AptDir = "/etc/apt"

// Fetch returns the Debian kernel of version (5.10, 6.1, 6.12, or a suite
// name), downloading it on first use into cacheDir/kernels/SUITE: the
// package linux-image-amd64 of that suite depends on, fetched with apt
// through a private configuration (cacheDir/apt/SUITE) that names the
// archive URI of the machine's own apt sources (aptDir) with that suite,
// then unpacked with dpkg-deb. The machine's apt state is not touched.
// Progress lines go to log.
func Fetch(ctx context.Context, version, cacheDir, aptDir string, log io.Writer) (Kernel, error) {
	suite, err := Suite(version)
	if err != nil {
		return Kernel{}, err
	}
	kdir := filepath.Join(cacheDir, "kernels", suite)
	if k, ok := cached(kdir); ok {
		return k, nil
	}
	src, err := machineSource(aptDir)
	if err != nil {
		return Kernel{}, err
	}
	adir := filepath.Join(cacheDir, "apt", suite)
	for _, d := range []string{"etc/sources.list.d", "etc/preferences.d", "state/lists/partial", "cache/archives/partial", "debs"} {
		if err := os.MkdirAll(filepath.Join(adir, d), 0o755); err != nil {
			return Kernel{}, fmt.Errorf("vm: cache: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(adir, "etc/sources.list"), []byte(sourcesList(src, suite)), 0o644); err != nil {
		return Kernel{}, fmt.Errorf("vm: cache: %w", err)
	}
	if err := os.WriteFile(filepath.Join(adir, "state/status"), nil, 0o644); err != nil {
		return Kernel{}, fmt.Errorf("vm: cache: %w", err)
	}
	opts := aptOptions(adir)
	fmt.Fprintf(log, "flatline: fetching the Debian %s kernel (%s) with apt from %s\n", suite, version, src.URI)
	if _, err := run(ctx, "", "apt-get", append(opts, "-q", "update")...); err != nil {
		return Kernel{}, err
	}
	out, err := run(ctx, "", "apt-cache", append(opts, "depends", "linux-image-amd64")...)
	if err != nil {
		return Kernel{}, err
	}
	pkg, err := parseDepends(out)
	if err != nil {
		return Kernel{}, err
	}
	debs := filepath.Join(adir, "debs")
	if _, err := run(ctx, debs, "apt-get", append(opts, "-q", "download", pkg)...); err != nil {
		return Kernel{}, err
	}
	files, _ := filepath.Glob(filepath.Join(debs, pkg+"_*.deb"))
	if len(files) == 0 {
		return Kernel{}, fmt.Errorf("vm: apt-get download %s left no .deb in %s", pkg, debs)
	}
	root := filepath.Join(kdir, "root")
	os.RemoveAll(root)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return Kernel{}, fmt.Errorf("vm: cache: %w", err)
	}
	if _, err := run(ctx, "", "dpkg-deb", "-x", files[0], root); err != nil {
		return Kernel{}, err
	}
	images, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(images) != 1 {
		return Kernel{}, fmt.Errorf("vm: package %s has %d kernel images in boot/, want 1", pkg, len(images))
	}
	k, err := FromPath(images[0], "")
	if err != nil {
		return Kernel{}, err
	}
	k.Package = pkg
	b, _ := json.MarshalIndent(k, "", "  ")
	if err := os.WriteFile(filepath.Join(kdir, "kernel.json"), b, 0o644); err != nil {
		return Kernel{}, fmt.Errorf("vm: cache: %w", err)
	}
	os.Remove(files[0]) // unpacked: the .deb is not needed again
	return k, nil
}

// machineSource reads the Debian archive from the apt sources under aptDir.
func machineSource(aptDir string) (Source, error) {
	files := map[string][]byte{}
	var order []string
	if b, err := os.ReadFile(filepath.Join(aptDir, "sources.list")); err == nil {
		files["sources.list"] = b
		order = append(order, "sources.list")
	}
	parts, _ := filepath.Glob(filepath.Join(aptDir, "sources.list.d", "*"))
	sort.Strings(parts)
	for _, p := range parts {
		ext := filepath.Ext(p)
		if ext != ".list" && ext != ".sources" {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			files[p] = b
			order = append(order, p)
		}
	}
	src, err := ParseSources(files, order)
	if err != nil {
		return Source{}, fmt.Errorf("%w (read %s)", err, aptDir)
	}
	return src, nil
}

// aptOptions point apt at the private configuration in dir, leaving the
// machine's lists, status and cache alone (its apt.conf.d, proxies
// included, still applies).
func aptOptions(dir string) []string {
	return []string{
		"-o", "Dir::Etc::sourcelist=" + filepath.Join(dir, "etc/sources.list"),
		"-o", "Dir::Etc::sourceparts=" + filepath.Join(dir, "etc/sources.list.d"),
		"-o", "Dir::Etc::preferencesparts=" + filepath.Join(dir, "etc/preferences.d"),
		"-o", "Dir::State=" + filepath.Join(dir, "state"),
		"-o", "Dir::State::status=" + filepath.Join(dir, "state/status"),
		"-o", "Dir::Cache=" + filepath.Join(dir, "cache"),
		"-o", "APT::Sandbox::User=root",
		"-o", "Acquire::Languages=none",
		"-o", "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false",
	}
}

// run runs a tool and returns its standard output; the error carries its
// standard error.
func run(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if _, lerr := exec.LookPath(name); lerr != nil {
			return nil, fmt.Errorf("vm: %s is not installed: %w", name, lerr)
		}
		return nil, fmt.Errorf("vm: %s %s: %w: %s", name, lastArg(args), err, stderr.String())
	}
	return out, nil
}

func lastArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[len(args)-1]
}

// limitedBuffer keeps the last 4 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if len(l.b) > 4096 {
		l.b = l.b[len(l.b)-4096:]
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
