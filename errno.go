package flatline

import "syscall"

// ErrnoCause is the cause an error number from a TCP socket's Read, Write,
// Dial or SO_ERROR stands for, before what the kernel left on the socket
// refines it: the one errno → cause mapping that Diagnose, the Recorder
// and the tracer (trace.Event.Cause) share. ETIMEDOUT is
// CauseKernelTimeout, which the callers refine (keepalive, unacked data,
// closed window, connect) from the socket. Linux sets these in:
//
//   - ETIMEDOUT: tcp_write_err, a retransmission, keepalive or SYN timer
//     that gave up (or its soft error, below);
//   - ECONNRESET: tcp_reset, an RST in a synchronised state; EPIPE: an RST
//     in CLOSE-WAIT (the peer's FIN came first), or a write after it;
//   - ECONNREFUSED: tcp_reset in SYN-SENT, an RST to the SYN;
//   - EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN: an ICMP error or a
//     local route failure;
//   - ECONNABORTED: tcp_abort, which only this host calls: SOCK_DESTROY
//     (`ss -K`, an agent's inet_diag destroy) or a BPF program's
//     bpf_sock_destroy. No packet from the peer sets it, so it is
//     CauseAborted, not CauseReset.
//
// On Windows the WSAE* codes are first read as the errno they carry
// (WSAECONNABORTED, which Windows returns when its own retransmission
// timer or an RST ended the connection, as ECONNRESET).
func ErrnoCause(e syscall.Errno) Cause {
	switch platformErrno(e) {
	case syscall.ETIMEDOUT:
		return CauseKernelTimeout
	case syscall.ECONNRESET, syscall.EPIPE:
		return CauseReset
	case syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN:
		return CauseUnreachable
	case syscall.ECONNREFUSED:
		return CauseRefused
	case syscall.ECONNABORTED:
		return CauseAborted
	}
	return CauseUnknown
}
