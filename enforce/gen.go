package enforce

// The kernel half, enforce.c, compiled to BPF for both byte orders and
// wrapped in Go by bpf2go. The objects and their Go files are committed, so
// building needs no clang; CI runs this and checks that nothing changed.
// Pinned: Debian's clang 14 and llvm-strip 14, libbpf-dev's bpf_helpers.h,
// linux-libc-dev's linux/bpf.h, and the flags below.
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -tags linux -target bpfel,bpfeb -type plan enforce enforce.c -- -O2 -g -Wall -Werror -I./include
