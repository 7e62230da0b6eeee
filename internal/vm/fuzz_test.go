package vm

import (
	"encoding/binary"
	"testing"
)

// FuzzImageRelease: any bytes, no panic; a release, when found, has no
// spaces.
func FuzzImageRelease(f *testing.F) {
	img := make([]byte, 0x700)
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x20e:], 0x400)
	copy(img[0x600:], "5.10.0-32-amd64 (debian-kernel@lists.debian.org) #1\x00")
	f.Add(img)
	f.Add([]byte("HdrS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rel, err := ImageRelease(b)
		if err == nil && (rel == "" || containsSpace(rel)) {
			t.Errorf("ImageRelease = %q without error", rel)
		}
	})
}

// FuzzModinfo: any .modinfo section or modules.dep, no panic, and every
// load order lists each module once.
func FuzzModinfo(f *testing.F) {
	f.Add([]byte("depends=nf_conntrack,nf_tables\x00name=nft_ct\x00"), []byte("a.ko: b.ko c.ko\nb.ko: c.ko\nc.ko:\n"))
	f.Add([]byte("depends=\x00"), []byte("a.ko: a.ko\n"))
	f.Fuzz(func(t *testing.T, modinfo, dep []byte) {
		ModinfoDepends(modinfo)
		deps := ParseModulesDep(dep)
		var want []string
		for p := range deps {
			want = append(want, ModuleName(p))
		}
		order, _ := LoadOrder(deps, want)
		seen := map[string]bool{}
		for _, p := range order {
			if seen[p] {
				t.Fatalf("LoadOrder lists %s twice: %q", p, order)
			}
			seen[p] = true
		}
	})
}

func containsSpace(s string) bool {
	for _, r := range s {
		if r == ' ' || r == '\t' || r == '\n' {
			return true
		}
	}
	return false
}
