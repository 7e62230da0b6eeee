package vm

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSources(t *testing.T) {
	deb822 := []byte(`Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`)
	securityFirst := []byte(`Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Enabled: no
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
`)
	oneLine := []byte(`# deb http://old.example/debian buster main
deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bullseye main contrib
deb http://one.example/debian bullseye-updates main
`)
	thirdParty := []byte("deb https://vendor.example/apt stable contrib\n")
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		order []string
		want  Source
		err   bool
	}{
		{"deb822", map[string][]byte{"d.sources": deb822}, []string{"d.sources"},
			Source{URI: "http://mirror.example/debian", SignedBy: "/usr/share/keyrings/debian-archive-keyring.gpg"}, false},
		{"one-line with options", map[string][]byte{"sources.list": oneLine}, []string{"sources.list"},
			Source{URI: "http://one.example/debian", SignedBy: "/k.gpg"}, false},
		{"security, source and disabled entries skipped", map[string][]byte{"a.sources": securityFirst, "b.sources": deb822}, []string{"a.sources", "b.sources"},
			Source{URI: "http://mirror.example/debian", SignedBy: "/usr/share/keyrings/debian-archive-keyring.gpg"}, false},
		{"no archive", map[string][]byte{"v.list": thirdParty}, []string{"v.list"}, Source{}, true},
	} {
		got, err := ParseSources(tc.files, tc.order)
		if (err != nil) != tc.err {
			t.Errorf("%s: err = %v, want error %v", tc.name, err, tc.err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.name, diff)
		}
	}
	if got, want := sourcesList(Source{URI: "http://m/debian", SignedBy: "/k.gpg"}, "trixie"), "deb [signed-by=/k.gpg] http://m/debian trixie main\n"; got != want {
		t.Errorf("sourcesList = %q, want %q", got, want)
	}
}

func TestSuite(t *testing.T) {
	for in, want := range map[string]string{"5.10": "bullseye", "6.1": "bookworm", "6.12": "trixie", "trixie": "trixie"} {
		if got, err := Suite(in); got != want || err != nil {
			t.Errorf("Suite(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Suite("4.19"); err == nil || !strings.Contains(err.Error(), "5.10, 6.1, 6.12") {
		t.Errorf("Suite(4.19) = %v, want an error naming the versions", err)
	}
}

func TestParseDepends(t *testing.T) {
	out := []byte("linux-image-amd64\n  Depends: linux-image-6.12.117+deb13-amd64\n  Recommends: firmware\n")
	if got, err := parseDepends(out); got != "linux-image-6.12.117+deb13-amd64" || err != nil {
		t.Errorf("parseDepends = %q, %v", got, err)
	}
	if _, err := parseDepends([]byte("linux-image-amd64\n")); err == nil {
		t.Error("parseDepends without Depends: no error")
	}
}

func TestImageRelease(t *testing.T) {
	img := make([]byte, 0x800)
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x20e:], 0x400)
	copy(img[0x600:], "6.12.117+deb13-amd64 (debian-kernel@lists.debian.org) #1 SMP\x00")
	if got, err := ImageRelease(img); got != "6.12.117+deb13-amd64" || err != nil {
		t.Errorf("ImageRelease = %q, %v", got, err)
	}
	if _, err := ImageRelease(make([]byte, 0x800)); err == nil {
		t.Error("ImageRelease without HdrS: no error")
	}
	if _, err := ImageRelease([]byte("short")); err == nil {
		t.Error("ImageRelease of 5 bytes: no error")
	}
}

func TestModules(t *testing.T) {
	if got := ModinfoDepends([]byte("license=GPL\x00depends=nf_conntrack,nf-tables,\x00name=nft_ct\x00")); !cmp.Equal(got, []string{"nf_conntrack", "nf_tables"}) {
		t.Errorf("ModinfoDepends = %q", got)
	}
	if got := ModuleName("kernel/net/sched/sch_netem.ko.xz"); got != "sch_netem" {
		t.Errorf("ModuleName = %q", got)
	}
	deps := ParseModulesDep([]byte(`kernel/net/netfilter/nft_ct.ko: kernel/net/netfilter/nf_conntrack.ko kernel/net/netfilter/nf_tables.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/nf_conntrack.ko: kernel/lib/libcrc32c.ko
kernel/net/netfilter/nf_tables.ko: kernel/lib/libcrc32c.ko
kernel/lib/libcrc32c.ko:
kernel/drivers/net/veth.ko:
`))
	order, missing := LoadOrder(deps, []string{"nft-ct", "veth", "ipv6"})
	want := []string{"kernel/lib/libcrc32c.ko", "kernel/net/netfilter/nf_tables.ko", "kernel/net/netfilter/nf_conntrack.ko", "kernel/net/netfilter/nft_ct.ko", "kernel/drivers/net/veth.ko"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("LoadOrder (-want +got)\n%s", diff)
	}
	if !cmp.Equal(missing, []string{"ipv6"}) {
		t.Errorf("missing = %q, want [ipv6]", missing)
	}
}

// TestArchive writes an archive and lists it with cpio, the oracle, when
// installed.
func TestArchive(t *testing.T) {
	a := NewArchive()
	a.File("/bin/busybox", []byte("ELF..."), 0o755)
	a.File("init", []byte("#!/bin/sh\n"), 0o755)
	a.Symlink("bin/sh", "busybox")
	a.Dir("run/netns")
	var buf bytes.Buffer
	n, err := a.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) || n%4 != 0 {
		t.Fatalf("WriteTo = %d, %v (buffer %d bytes)", n, err, buf.Len())
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("070701")) || !bytes.Contains(buf.Bytes(), []byte("TRAILER!!!\x00")) {
		t.Fatal("not a newc archive")
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed: no oracle")
	}
	cmd := exec.Command("cpio", "-t", "--quiet")
	cmd.Stdin = &buf
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	got := strings.Fields(string(out))
	want := []string{"bin", "bin/busybox", "bin/sh", "init", "run", "run/netns"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cpio -t (-want +got)\n%s", diff)
	}
	dir := t.TempDir()
	buf.Reset()
	a.WriteTo(&buf)
	cmd = exec.Command("cpio", "-id", "--quiet")
	cmd.Dir, cmd.Stdin = dir, &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("cpio -id: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "init")); string(b) != "#!/bin/sh\n" {
		t.Errorf("init extracted as %q", b)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "bin/sh")); l != "busybox" {
		t.Errorf("bin/sh -> %q, want busybox", l)
	}
}

func TestShellQuoteAndConsole(t *testing.T) {
	if got := shellQuote("it's"); got != `'it'\''s'` {
		t.Errorf("shellQuote = %s", got)
	}
	rel, rc := parseConsole([]byte("[ 1.0] boot\r\nFLATLINE-GUEST-START 6.1.0-40-amd64\r\nlab output\r\nFLATLINE-GUEST-RC=3\r\n"))
	if rel != "6.1.0-40-amd64" || rc != 3 {
		t.Errorf("parseConsole = %q, %d", rel, rc)
	}
	if _, rc := parseConsole([]byte("Kernel panic\n")); rc != -1 {
		t.Errorf("parseConsole without status: rc %d, want -1", rc)
	}
}

// TestFromPathRefusesNonImages: a device, a directory and a file far
// larger than a kernel are refused without reading them; a real image's
// release is read from its first bytes only.
func TestFromPathRefusesNonImages(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxImageBytes + 1); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	for _, p := range []string{"/dev/zero", dir, huge} {
		if _, err := FromPath(p, ""); err == nil || !strings.Contains(err.Error(), "is not a kernel image") {
			t.Errorf("FromPath(%s) = %v, want it refused as not a kernel image", p, err)
		}
	}
	img := make([]byte, 1<<20)
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x20e:], 0x400)
	copy(img[0x600:], "6.1.0-test #1\x00")
	p := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if k, err := FromPath(p, ""); err != nil || k.Release != "6.1.0-test" {
		t.Errorf("FromPath(image) = %+v, %v", k, err)
	}
}
