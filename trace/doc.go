// Package trace reports every TCP connection the kernel ends without the
// application asking, with its cause, from eBPF programs attached to the
// kernel's BTF tracepoints: the socket reaching CLOSE with an error while a
// process still holds it (sock/inet_sock_set_state). What was outstanding
// then tells the timer that gave up: the kernel purges the write queue but
// leaves the sequence numbers, so data in flight means retransmission,
// data only queued behind a zero window means zero-window probes, neither
// means keepalive. The settings in force (keepalive, TCP_USER_TIMEOUT,
// tcp_retries2) and the counters left on the socket are read in the kernel
// at that moment. The owning process is recorded while it is alive: at
// connect, at listen for the connections a listener accepts, and at the
// first send or receive (sock/sock_send_length, sock/sock_recv_length).
// fentry and fexit would name the timer directly, but a kernel locked down
// for integrity refuses them; BTF tracepoints it allows.
//
// Causes are flatline.Cause values: keepalive, unacked-data, closed-window,
// reset, refused, unreachable, connect-timeout; Event.Limit says whether a
// timeout ended by TCP_USER_TIMEOUT, tcp_retries2, TCP_KEEPCNT or the SYN
// retries, classified by the kernel model (internal/kernel.EndedBy). It
// needs MinKernel; New fails with an error matching flatline.ErrNotSupported
// on older kernels and on other systems. Deaths the ring buffer had no room
// for are counted (Tracer.Lost), never dropped silently.
//
// The programs are in trace.c, compiled by bpf2go (gen.go) against the
// minimal CO-RE vmlinux.h beside it; the generated tracer_bpfel.go and
// tracer_bpfel.o are committed, and `go generate ./trace/` reproduces them
// byte for byte.
package trace
