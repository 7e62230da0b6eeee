package bpfiter

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ownerBytes(ino uint64, pid, fd uint32, comm string) []byte {
	b := make([]byte, ownerSize)
	binary.NativeEndian.PutUint64(b[0:], ino)
	binary.NativeEndian.PutUint32(b[8:], pid)
	binary.NativeEndian.PutUint32(b[12:], fd)
	copy(b[16:], comm)
	return b
}

func TestDecodeOwners(t *testing.T) {
	in := append(ownerBytes(9, 42, 3, "postgres"), ownerBytes(10, 7, 11, "a-command-of-16c")...)
	got, err := decodeOwners(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Owner{{Inode: 9, PID: 42, FD: 3, Comm: "postgres"}, {Inode: 10, PID: 7, FD: 11, Comm: "a-command-of-16c"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := decodeOwners(in[:ownerSize+1]); !errors.Is(err, errRecord) {
		t.Errorf("torn record: %v", err)
	}
}

func FuzzDecodeOwners(f *testing.F) {
	f.Add(ownerBytes(9, 42, 3, "postgres"))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		owners, err := decodeOwners(b)
		if err != nil {
			return
		}
		if len(owners) != len(b)/ownerSize {
			t.Fatalf("%d owners from %d bytes", len(owners), len(b))
		}
		for _, o := range owners {
			if len(o.Comm) > 16 {
				t.Fatalf("comm %q longer than the kernel's 16 bytes", o.Comm)
			}
		}
	})
}
