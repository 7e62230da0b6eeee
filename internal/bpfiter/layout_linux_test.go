package bpfiter

import (
	"testing"
	"unsafe"
)

func TestRecSize(t *testing.T) {
	if got := unsafe.Sizeof(iterRec{}); got != recSize {
		t.Fatalf("struct rec is %d bytes in iter.c, the decoder reads %d", got, recSize)
	}
	if got := unsafe.Offsetof(iterRec{}.Keepalive); got != 32 {
		t.Fatalf("keepalive at %d in iter.c, the decoder reads 32", got)
	}
}
