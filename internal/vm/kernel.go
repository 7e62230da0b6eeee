package vm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Kernel is a bootable kernel: its image and the modules directory of the
// same release (lib/modules/RELEASE), "" if it has none (everything the
// lab needs built in).
type Kernel struct {
	Image   string `json:"image"`
	Modules string `json:"modules"`
	Config  string `json:"config"`  // the kernel's config (boot/config-RELEASE), "" if absent
	Release string `json:"release"` // uname -r, read from the image
	Package string `json:"package"` // the Debian package, "" for a path
}

// ImageRelease reads the release (uname -r) from an x86 bzImage's setup
// header: the kernel_version field at 0x20e points, less 0x200, at a
// NUL-terminated version string whose first word is the release.
func ImageRelease(image []byte) (string, error) {
	if len(image) < 0x210 || string(image[0x202:0x206]) != "HdrS" {
		return "", errors.New("vm: not an x86 bzImage (no HdrS setup header)")
	}
	off := int(binary.LittleEndian.Uint16(image[0x20e:])) + 0x200
	if off <= 0x200 || off >= len(image) {
		return "", errors.New("vm: bzImage has no kernel version string")
	}
	s := image[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	f := strings.Fields(string(s))
	if len(f) == 0 {
		return "", errors.New("vm: bzImage has an empty kernel version string")
	}
	return f[0], nil
}

// FromPath returns the kernel at image, with modules in modules (the
// lib/modules/RELEASE directory; "" means look for it next to the image:
// lib/modules/RELEASE beside boot/, then /lib/modules/RELEASE).
// It reads only the image's first headerBytes, and refuses what is not a
// regular file of at most maxImageBytes (a device such as /dev/zero, a
// directory, a huge file): what qemu is given must be a kernel.
func FromPath(image, modules string) (Kernel, error) {
	b, err := readImageHeader(image)
	if err != nil {
		return Kernel{}, err
	}
	rel, err := ImageRelease(b)
	if err != nil {
		return Kernel{}, fmt.Errorf("%w: %s", err, image)
	}
	k := Kernel{Image: image, Release: rel, Modules: modules}
	if cfg := filepath.Join(filepath.Dir(image), "config-"+rel); fileExists(cfg) {
		k.Config = cfg
	}
	if modules != "" {
		if _, err := os.Stat(filepath.Join(modules, "kernel")); err != nil {
			return Kernel{}, fmt.Errorf("vm: %s is not a modules directory (no kernel/ in it): give lib/modules/%s", modules, rel)
		}
		return k, nil
	}
	root := filepath.Dir(filepath.Dir(image))
	for _, dir := range []string{
		filepath.Join(root, "usr/lib/modules", rel),
		filepath.Join(root, "lib/modules", rel),
		filepath.Join("/lib/modules", rel),
	} {
		if _, err := os.Stat(filepath.Join(dir, "kernel")); err == nil {
			k.Modules = dir
			return k, nil
		}
	}
	return k, nil // no modules: the guest runs with what is built in
}

// Bounds of a kernel image: distribution kernels are 8-20 MB; the setup
// header and its version string lie in the first setup sectors (at most
// 64 of 512 bytes).
const (
	maxImageBytes = 256 << 20
	headerBytes   = 64 << 10
)

// readImageHeader reads the first headerBytes of the kernel image at path
// after checking it is a regular file of a kernel's size.
func readImageHeader(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vm: read kernel image: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("vm: read kernel image: %w", err)
	}
	switch {
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("vm: %s is not a kernel image (not a regular file: %v): give a bzImage such as /boot/vmlinuz-RELEASE", path, st.Mode().Type())
	case st.Size() > maxImageBytes:
		return nil, fmt.Errorf("vm: %s is not a kernel image (%d MiB, over %d MiB): give a bzImage such as /boot/vmlinuz-RELEASE", path, st.Size()>>20, maxImageBytes>>20)
	}
	b := make([]byte, min(st.Size(), headerBytes))
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("vm: read kernel image %s: %w", path, err)
	}
	return b, nil
}

// cached reads a kernel recorded in dir/kernel.json.
func cached(dir string) (Kernel, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return Kernel{}, false
	}
	var k Kernel
	if json.Unmarshal(b, &k) != nil {
		return Kernel{}, false
	}
	if _, err := os.Stat(k.Image); err != nil {
		return Kernel{}, false
	}
	return k, true
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
