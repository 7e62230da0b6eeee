package bpfiter

// Compiled with clang 14 and libbpf's headers like trace/ (whose minimal,
// CO-RE vmlinux.h it shares); the generated files are committed.
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror -I../../trace" -target bpfel,bpfeb -tags linux -type rec -type owner iter iter.c
