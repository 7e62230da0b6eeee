package vm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Guest is a command to run in a virtual machine booted from Kernel.
type Guest struct {
	Kernel Kernel
	// Files are copied into the guest: guest path -> host path. Programs
	// must be statically linked (see Static).
	Files map[string]string
	// Command is run by the guest's init with Env added to its
	// environment; its standard output comes back as Output.Stdout, its
	// standard error on the console.
	Command []string
	Env     []string
	// Modules are loaded, with their dependencies, before Command; names
	// the kernel has built in or lacks are skipped. Nil means LabModules.
	Modules []string
	// MemoryMiB and CPUs size the machine; zero means 1024 MiB and 2.
	MemoryMiB, CPUs int
}

// guestMarker lines on the console frame the command's exit status.
const (
	startMarker = "FLATLINE-GUEST-START"
	rcMarker    = "FLATLINE-GUEST-RC="
)

// initScript is the guest's /init (busybox sh): mount what the lab needs,
// load the modules, run /cmd with its output on the second serial port,
// report its exit status on the console, power off.
const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /run/netns
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
while read m; do
	[ -n "$m" ] || continue
	insmod /lib/modules/guest/$m 2>/dev/console || echo "flatline-guest: insmod $m failed" >/dev/console
done </modules.order
ip link set lo up
echo "` + startMarker + ` $(uname -r)" >/dev/console
cd /tmp
sh /cmd >/dev/ttyS1 2>/dev/console
echo "` + rcMarker + `$?" >/dev/console
sync
poweroff -f
`

// Static reports whether the ELF program at path is statically linked
// (has no interpreter): only such programs run in the guest, which has no
// C library.
func Static(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("vm: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// initramfs builds the guest's root file system.
func (g Guest) initramfs() (*Archive, error) {
	a := NewArchive()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return nil, errors.New("vm: busybox is not installed: the guest's init is busybox (Debian: busybox-static)")
	}
	if ok, err := Static(bb); err != nil || !ok {
		return nil, fmt.Errorf("vm: %s is not statically linked: install busybox-static", bb)
	}
	if err := a.addHostFile("bin/busybox", bb, 0o755); err != nil {
		return nil, err
	}
	a.File("init", []byte(initScript), 0o755)
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "etc", "lib/modules/guest"} {
		a.Dir(d)
	}
	a.File("etc/hosts", []byte("127.0.0.1 localhost\n::1 localhost\n"), 0o644)
	a.File("etc/passwd", []byte("root:x:0:0:root:/tmp:/bin/sh\n"), 0o644)
	for guest, host := range g.Files {
		if err := a.addHostFile(guest, host, 0o755); err != nil {
			return nil, err
		}
	}
	var cmd strings.Builder
	for _, e := range g.Env {
		fmt.Fprintf(&cmd, "export %s\n", shellQuote(e))
	}
	for i, arg := range g.Command {
		if i > 0 {
			cmd.WriteByte(' ')
		}
		cmd.WriteString(shellQuote(arg))
	}
	cmd.WriteByte('\n')
	a.File("cmd", []byte(cmd.String()), 0o644)

	order := []string{}
	if g.Kernel.Modules != "" {
		want := g.Modules
		if want == nil {
			want = LabModules
		}
		mods, err := resolveModules(g.Kernel.Modules, want)
		if err != nil {
			return nil, err
		}
		for _, m := range mods {
			name := ModuleName(m.path) + ".ko"
			a.File("lib/modules/guest/"+name, m.data, 0o644)
			order = append(order, name)
		}
	}
	if g.Kernel.Config != "" {
		// The kernel config, for HZ (flatline reads /boot/config-RELEASE).
		if err := a.addHostFile("boot/config-"+g.Kernel.Release, g.Kernel.Config, 0o644); err != nil {
			return nil, err
		}
	}
	a.File("modules.order", []byte(strings.Join(order, "\n")+"\n"), 0o644)
	return a, nil
}

func (a *Archive) addHostFile(guest, host string, perm uint32) error {
	b, err := os.ReadFile(host)
	if err != nil {
		return fmt.Errorf("vm: guest file %s: %w", guest, err)
	}
	a.File(guest, b, perm)
	return nil
}

// moduleBytes reads a module file, uncompressed: busybox's insmod takes
// plain ELF. .gz is read here; .xz and .zst through the xz and zstd tools.
func moduleBytes(path string) ([]byte, error) {
	switch filepath.Ext(path) {
	case ".ko":
		return os.ReadFile(path)
	case ".gz":
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("vm: %s: %w", path, err)
		}
		return io.ReadAll(zr)
	case ".xz", ".zst":
		tool := map[string]string{".xz": "xz", ".zst": "zstd"}[filepath.Ext(path)]
		var out, stderr bytes.Buffer
		cmd := exec.Command(tool, "-dc", path)
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("vm: decompress %s with %s (install it to use compressed modules): %w: %s", path, tool, err, stderr.String())
		}
		return out.Bytes(), nil
	}
	return nil, fmt.Errorf("vm: %s: not a kernel module (.ko, .ko.gz, .ko.xz, .ko.zst)", path)
}

// shellQuote quotes s for sh: single quotes, with ' spelled '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// module is a module file, uncompressed, by its path in the modules
// directory.
type module struct {
	path string
	data []byte
}

// resolveModules finds the modules named in want under dir and everything
// they depend on (each module's .modinfo depends=, read from the files:
// a package's modules directory has no modules.dep until depmod runs),
// and returns them in load order. Names not found (built in, or not in
// this kernel) are skipped.
func resolveModules(dir string, want []string) ([]module, error) {
	byName := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), ".ko") {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		byName[ModuleName(rel)] = rel
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vm: modules: %w", err)
	}
	deps := map[string][]string{}
	data := map[string][]byte{}
	queue := append([]string(nil), want...)
	for len(queue) > 0 {
		name := strings.ReplaceAll(queue[0], "-", "_")
		queue = queue[1:]
		p, ok := byName[name]
		if !ok {
			continue
		}
		if _, done := data[p]; done {
			continue
		}
		b, err := moduleBytes(filepath.Join(dir, p))
		if err != nil {
			return nil, err
		}
		data[p] = b
		f, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("vm: module %s: %w", p, err)
		}
		var names []string
		if sec := f.Section(".modinfo"); sec != nil {
			if mi, err := sec.Data(); err == nil {
				names = ModinfoDepends(mi)
			}
		}
		for _, n := range names {
			if dp, ok := byName[n]; ok {
				deps[p] = append(deps[p], dp)
			}
			queue = append(queue, n)
		}
		if deps[p] == nil {
			deps[p] = []string{}
		}
	}
	order, _ := LoadOrder(deps, want)
	out := make([]module, len(order))
	for i, p := range order {
		out[i] = module{path: p, data: data[p]}
	}
	return out, nil
}

// parseConsole finds the guest's release and the command's exit status
// on the console; rc is -1 if the command never finished.
func parseConsole(console []byte) (release string, rc int) {
	rc = -1
	sc := bufio.NewScanner(bytes.NewReader(console))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimRight(sc.Text(), "\r"))
		if i := strings.Index(line, startMarker+" "); i >= 0 {
			release = strings.TrimSpace(line[i+len(startMarker)+1:])
		}
		if i := strings.Index(line, rcMarker); i >= 0 {
			if n, err := strconv.Atoi(strings.TrimSpace(line[i+len(rcMarker):])); err == nil {
				rc = n
			}
		}
	}
	return release, rc
}
