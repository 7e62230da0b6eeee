//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// flatline inspect's BPF iterator over TCP sockets (iter/tcp, Linux 5.9):
// for every full TCP socket of the reader's network namespace, one struct
// rec with its inode and the dead-peer settings getsockopt would return
// (effective values: the socket's own, or its namespace's sysctls). Read
// in the kernel: no ptrace permission, no descriptor of the owning process.
// Decoded by iter.go; the layout of struct rec is mirrored there.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct rec {
	u64 inode;        // socket inode (socket:[N]); 0: no file (orphaned)
	u32 keepidle;     // effective TCP_KEEPIDLE, jiffies
	u32 keepintvl;    // effective TCP_KEEPINTVL, jiffies
	u32 user_timeout; // TCP_USER_TIMEOUT, ms
	u32 net_keepidle; // the namespace's tcp_keepalive_time, jiffies (gives HZ)
	u16 sport;        // local port, host order
	u16 dport;        // remote port, host order
	u8 family;
	u8 state;
	u8 keepcnt;       // effective TCP_KEEPCNT
	u8 syncnt;        // effective TCP_SYNCNT
	u8 keepalive;     // SO_KEEPALIVE
	u8 pad[7];
};

_Static_assert(sizeof(struct rec) == 40, "struct rec layout changed: update iter.go");

const struct rec *unused_rec __attribute__((unused));

SEC("iter/tcp")
int flt_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct tcp_sock *tp;
	struct sock *sk;
	struct socket *so;
	struct net *net;
	struct rec r = {};
	unsigned long flags;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc); // NULL for TIME-WAIT and request sockets
	if (!tp)
		return 0;
	sk = (struct sock *)tp;
	so = BPF_CORE_READ(sk, sk_socket);
	if (so) {
		struct socket_alloc *sa = (void *)((char *)so - bpf_core_field_offset(struct socket_alloc, socket));
		r.inode = BPF_CORE_READ(sa, vfs_inode.i_ino);
	}
	net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	r.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	r.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	r.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	r.dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	r.keepalive = !!(flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_KEEPOPEN)));

	r.net_keepidle = BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_time);
	r.keepidle = BPF_CORE_READ(tp, keepalive_time);
	if (!r.keepidle)
		r.keepidle = r.net_keepidle;
	r.keepintvl = BPF_CORE_READ(tp, keepalive_intvl);
	if (!r.keepintvl)
		r.keepintvl = BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_intvl);
	r.keepcnt = BPF_CORE_READ(tp, keepalive_probes);
	if (!r.keepcnt)
		r.keepcnt = BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_probes);
	r.syncnt = BPF_CORE_READ(tp, inet_conn.icsk_syn_retries);
	if (!r.syncnt)
		r.syncnt = BPF_CORE_READ(net, ipv4.sysctl_tcp_syn_retries);
	r.user_timeout = BPF_CORE_READ(tp, inet_conn.icsk_user_timeout);

	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}
