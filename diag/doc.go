// Package diag inspects the TCP sockets of a host, a network namespace or a
// process and says, for each, how long the kernel would take to notice its
// peer vanish now, and whether that is acceptable.
//
// Scan reads every TCP socket (IPv4 and IPv6) with inet_diag over a
// NETLINK_SOCK_DIAG socket opened in the inspected namespace: state,
// pending timer (off, on, keepalive, timewait, persist) and its expiry,
// retransmissions and probes, and tcp_info. It finds each socket's owner
// through the /proc/PID/fd links to socket inodes, and reads its real
// options (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT,
// TCP_USER_TIMEOUT, TCP_SYNCNT) by taking a duplicate of the descriptor
// with pidfd_open and pidfd_getfd (Linux 5.6; ptrace permission over the
// owner, which root has) and reading it back with getsockopt.
// It reads the namespace's TCP sysctls with flatline.ReadHost from a
// thread switched into that namespace.
//
// Each socket is then judged with the library's own arithmetic
// (flatline.Settings.Bounds, the kernel model's arithmetic): what the socket
// is doing now (idle, sending, closed window, connecting), how much of the
// relevant timer has already run, and so how long from now until the
// kernel gives up if every packet is dropped from now on, the timers'
// slack included, and how many lost keepalive probes it tolerates.
// Verdicts are ok (within Options.Max), slow, at-risk (within Max, but at
// the loss the socket has seen, tcpi_total_retrans / tcpi_segs_out, the
// false-kill model expects AtRiskPerHour or more kills of a live peer an
// hour), fragile (within Max, but a single lost keepalive probe kills it),
// never, stuck-retransmitting and unknown (the options could not be read
// and inet_diag alone does not decide). What
// could not be read is said per socket (OptionsError names what is
// needed) and in Report.Notes; sockets that close and processes that exit
// during a scan do not fail it.
//
// Watch polls the same dump and reports each socket's timer transitions
// (keepalive → on → keepalive ...), the observation that shows a busy
// socket is not protected by keepalive.
//
// The decoders of kernel messages (DecodeDiagMsg, DecodeTCPInfo,
// DumpParser, ParseSocketLink) are pure functions; the system calls live
// in the _linux.go files. Elsewhere Scan and Watch return an error
// matching flatline.ErrNotSupported.
package diag
