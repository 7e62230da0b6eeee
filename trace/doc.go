// Package trace reports every TCP connection the kernel ends without the
// application asking, with its cause, from eBPF programs attached to the
// kernel's TCP state changes and timers: the socket reaching CLOSE with an
// error (tracepoint sock/inet_sock_set_state), the timer that was firing
// then (fentry on tcp_write_timer_handler and tcp_keepalive_timer, whose
// icsk_pending tells a retransmission from a zero-window probe), and the
// process that connected or accepted it (at connect, fexit on
// inet_csk_accept). The settings in force (keepalive, TCP_USER_TIMEOUT,
// tcp_retries2) and the counters left on the socket are read in the
// kernel at that moment.
//
// Causes are flatline.Cause values: keepalive, unacked-data, closed-window,
// reset, refused, unreachable, connect-timeout; Event.Limit says whether a
// timeout ended by TCP_USER_TIMEOUT, tcp_retries2, TCP_KEEPCNT or the SYN
// retries. It needs MinKernel; New fails with an error matching
// flatline.ErrNotSupported on older kernels and on other systems.
//
// The programs are in trace.c, compiled by bpf2go (gen.go); the generated
// tracer_bpfel.go and tracer_bpfel.o are committed.
package trace
