package hugeheap

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestMadviseMode(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]bool{
		"always [madvise] never\n": true,
		"[always] madvise never\n": false,
		"always madvise [never]\n": false,
		"":                         false,
	} {
		p := filepath.Join(dir, "enabled")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := madviseMode(p); got != want {
			t.Errorf("madviseMode(%q) = %v, want %v", text, got, want)
		}
	}
	if madviseMode(filepath.Join(dir, "missing")) {
		t.Error("a missing file reads as madvise")
	}
}

// TestReserveGivesHugePages: after Reserve, the heap the process then
// allocates and touches is backed by huge pages (AnonHugePages in
// /proc/self/smaps grows); without the advice, in madvise mode, it
// would stay at zero for the Go heap.
func TestReserveGivesHugePages(t *testing.T) {
	if !madviseMode(modePath) {
		t.Skipf("%s does not select madvise: the heap gets huge pages from the kernel's mode, or none", modePath)
	}
	before := anonHuge(t)
	if !Reserve(64 << 20) {
		t.Fatal("Reserve marked nothing in madvise mode")
	}
	// 16 MiB in objects of 1 KiB, each written: the shape of a scan's
	// records and rows.
	keep := make([][]byte, 0, 16<<10)
	for range 16 << 10 {
		b := make([]byte, 1<<10)
		b[0] = 1
		keep = append(keep, b)
	}
	after := anonHuge(t)
	t.Logf("AnonHugePages %d kB before, %d kB after 16 MiB of allocations", before, after)
	if after-before < 4<<10 {
		t.Errorf("AnonHugePages grew by %d kB after Reserve and 16 MiB of allocations, want at least 4 MiB", after-before)
	}
	_ = keep[len(keep)-1]
}

// anonHuge sums AnonHugePages (kB) over the process's mappings.
func anonHuge(t *testing.T) int {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "AnonHugePages:")
		if !ok {
			continue
		}
		kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
		if err != nil {
			t.Fatalf("smaps line %q: %v", sc.Text(), err)
		}
		n += kb
	}
	return n
}
