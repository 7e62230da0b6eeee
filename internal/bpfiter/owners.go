package bpfiter

import (
	"encoding/binary"
	"fmt"
)

// Owner is one descriptor of a process on a socket.
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
	return decodeOwnersAppend(make([]Owner, 0, len(b)/ownerSize), b), nil
}

// decodeOwnersAppend appends the owners of whole records b to out. The
// descriptors of one process come together: they share its Comm string.
func decodeOwnersAppend(out []Owner, b []byte) []Owner {
	var last Owner
	if len(out) > 0 {
		last = out[len(out)-1]
	}
	for ; len(b) >= ownerSize; b = b[ownerSize:] {
		last = ownerAt(b, last)
		out = append(out, last)
	}
	return out
}

// ownerAt decodes the record at the start of b (at least ownerSize
// bytes), sharing prev's Comm string when it is the same process's.
func ownerAt(b []byte, prev Owner) Owner {
	le := binary.NativeEndian // the program writes its records in host order
	comm := b[16:32]
	n := 0
	for n < len(comm) && comm[n] != 0 {
		n++
	}
	pid := int(le.Uint32(b[8:]))
	o := Owner{Inode: le.Uint64(b[0:]), PID: pid, FD: int(le.Uint32(b[12:]))}
	if prev.PID == pid && prev.Comm == string(comm[:n]) {
		o.Comm = prev.Comm
	} else {
		o.Comm = string(comm[:n])
	}
	return o
}
