package trace

// The BPF program is compiled with clang 14 and libbpf's headers (Debian:
// clang-14, libbpf-dev); the generated Go and object files are committed so
// that building needs neither. `go generate ./trace/` reproduces them byte
// for byte.
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target bpfel,bpfeb -tags linux -type event tracer trace.c
