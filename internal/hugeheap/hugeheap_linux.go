package hugeheap

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the x86-64 and arm64 (4 KiB base page) PMD size: the
// granularity of a transparent huge page.
const hugePage = 2 << 20

// modePath is where the kernel says when it gives a process huge pages.
const modePath = "/sys/kernel/mm/transparent_hugepage/enabled"

// Reserve grows the Go heap by n bytes and marks that span MADV_HUGEPAGE,
// then gives it back to the runtime as free heap, which the runtime
// hands out lowest address first: the allocations that follow fault in
// 2 MiB at a time. It does nothing unless the kernel's mode is
// "madvise" ("always" gives the heap huge pages already, "never" gives
// none) and reports whether it marked anything. The cost is one garbage
// collection of a heap still small (under a millisecond) and n bytes of
// address space; memory is only used as it is touched. It sets the
// collector's percentage (debug.SetGCPercent) back to what it was, so it
// must not race with another call to SetGCPercent.
func Reserve(n int) bool {
	if n < 2*hugePage || !madviseMode(modePath) {
		return false
	}
	// A large allocation is a span of its own, mapped fresh from the
	// reserved arena and not zeroed by the runtime (fresh pages are
	// zero): nothing here is touched. The collector is off while it is
	// made: n bytes over a young heap's goal would start a collection
	// of their own (8 ms of CPU here) before the one below.
	gc := debug.SetGCPercent(-1)
	b := make([]byte, n)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	beg := (p + hugePage - 1) &^ (hugePage - 1)
	end := (p + uintptr(n)) &^ (hugePage - 1)
	var err error
	if beg < end {
		err = unix.Madvise(b[beg-p:end-p], unix.MADV_HUGEPAGE)
	}
	runtime.KeepAlive(b)
	b = nil
	debug.SetGCPercent(gc)
	// Frees the span for the allocations to come.
	runtime.GC()
	return beg < end && err == nil
}

// madviseMode reports whether the file at path (the kernel's THP mode,
// "always [madvise] never") has madvise selected.
func madviseMode(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(b, []byte("[madvise]"))
}
