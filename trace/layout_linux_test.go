package trace

import (
	"testing"
	"unsafe"
)

// TestRecordSize checks the decoder against the layout bpf2go generated
// from trace.c's struct event.
func TestRecordSize(t *testing.T) {
	if got := unsafe.Sizeof(tracerEvent{}); got != recordSize {
		t.Fatalf("struct event is %d bytes in trace.c, the decoder reads %d", got, recordSize)
	}
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"comm", unsafe.Offsetof(tracerEvent{}.Comm), 32},
		{"sport", unsafe.Offsetof(tracerEvent{}.Sport), 80},
		{"flags", unsafe.Offsetof(tracerEvent{}.Flags), 87},
		{"err", unsafe.Offsetof(tracerEvent{}.Err), 88},
		{"user_timeout", unsafe.Offsetof(tracerEvent{}.UserTimeout), 96},
		{"silent", unsafe.Offsetof(tracerEvent{}.Silent), 108},
		{"keepcnt", unsafe.Offsetof(tracerEvent{}.Keepcnt), 120},
		{"backoff", unsafe.Offsetof(tracerEvent{}.Backoff), 125},
	} {
		if f.got != f.want {
			t.Errorf("offset of %s: trace.c %d, decoder %d", f.name, f.got, f.want)
		}
	}
}
