// Package enforce holds every TCP connection of a cgroup (v2) to the plan
// of a flatline.Config, in the kernel, without changing the programs in it.
//
// Attach loads two eBPF programs and links them to the cgroup:
//
//   - a sock_ops program sets SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
//     TCP_KEEPCNT and TCP_USER_TIMEOUT of the plan on every connection a
//     process of the cgroup (or of a cgroup below it) makes, before its SYN
//     leaves, and on every connection it accepts;
//   - a cgroup/setsockopt program keeps those values: a process that sets a
//     looser keepalive or user timeout (Go's net.Dialer sets 15 s/15 s/9
//     after connecting) has the value rewritten to the plan's, unless
//     Options.AllowLooser.
//
// Spreading: a kernel program cannot wait, so instead of the library's
// "re-arm after a random delay" each connection gets an offset, one of
// Plan.JitterOffsets values Plan.JitterStep apart (the timer wheel's bucket
// at the idle period, whole seconds), picked by a hash of its two ports
// (kernel.Jitter), and added to its TCP_KEEPIDLE and TCP_USER_TIMEOUT
// together, so connections made together do not probe together and the
// chain keeps its probes. Apply uses the same offsets. The plan's bounds
// include the largest (Plan.MaxJitter).
//
// Apply sets the plan on the open TCP sockets of a running process through
// pidfd_getfd, for processes started before enforce or outside any cgroup
// it holds.
//
// Kernel: bpf_setsockopt of the keepalive options and TCP_USER_TIMEOUT from
// sock_ops needs Linux 5.9, the cgroup setsockopt hook 5.3, bpf_link for
// cgroups 5.7; Attach fails with an error matching flatline.ErrNotSupported
// that names what is missing. On Linux 5.10 with kernel BTF, or 6.1, a value
// a program made stricter before connecting is kept (read from the
// kernel's struct tcp_sock, or with bpf_getsockopt). Links are bpf_links: the kernel detaches them
// when the last descriptor closes, so a process that ends, however it ends,
// leaves nothing attached, unless Pin put them in a bpffs directory.
package enforce
