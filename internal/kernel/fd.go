package kernel

import "syscall"

// FD is a socket descriptor this process holds (a pidfd_getfd duplicate),
// as a syscall.Conn: the root package's ReadSettings and SetSettings take
// it, so that callers get their public errors. The caller keeps owning
// and closing the descriptor.
type FD int

// SyscallConn returns a RawConn whose Control, Read and Write run their
// function once on the descriptor.
func (f FD) SyscallConn() (syscall.RawConn, error) { return rawFD(f), nil }

type rawFD int

func (r rawFD) Control(fn func(fd uintptr)) error { fn(uintptr(r)); return nil }
func (r rawFD) Read(fn func(fd uintptr) bool) error {
	fn(uintptr(r))
	return nil
}
func (r rawFD) Write(fn func(fd uintptr) bool) error {
	fn(uintptr(r))
	return nil
}
