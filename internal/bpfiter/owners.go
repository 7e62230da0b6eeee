package bpfiter

import (
	"encoding/binary"
	"fmt"
)

// Owner is one descriptor of a process on a TCP socket.
type Owner struct {
	Inode uint64 // the socket's inode (socket:[Inode])
	PID   int    // the process, as the initial pid namespace numbers it
	FD    int    // the descriptor in that process
	Comm  string // the task's command (/proc/PID/comm)
}

// ownerSize is the size of struct owner in iter.c.
const ownerSize = 32

// decodeOwners splits the owner iterator's output into owners.
func decodeOwners(b []byte) ([]Owner, error) {
	if len(b)%ownerSize != 0 {
		return nil, fmt.Errorf("%w (%d bytes, records of %d)", errRecord, len(b), ownerSize)
	}
	le := binary.NativeEndian // the program writes its records in host order
	out := make([]Owner, 0, len(b)/ownerSize)
	for ; len(b) > 0; b = b[ownerSize:] {
		comm := b[16:32]
		n := 0
		for n < len(comm) && comm[n] != 0 {
			n++
		}
		out = append(out, Owner{
			Inode: le.Uint64(b[0:]),
			PID:   int(le.Uint32(b[8:])),
			FD:    int(le.Uint32(b[12:])),
			Comm:  string(comm[:n]),
		})
	}
	return out, nil
}
