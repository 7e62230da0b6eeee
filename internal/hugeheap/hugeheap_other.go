//go:build !linux

package hugeheap

// Reserve does nothing off Linux: there are no transparent huge pages to
// ask for.
func Reserve(n int) bool { return false }
