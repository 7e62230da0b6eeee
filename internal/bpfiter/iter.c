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
#include <bpf/bpf_endian.h>

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
	// What inet_diag reports of the socket (inet_sk_diag_fill,
	// tcp_get_info), so that a scan walks the sockets once, not twice.
	u8 timer;         // idiag_timer: 0 none, 1 retransmit, 2 keepalive, 4 zero-window probe
	u8 retrans;       // idiag_retrans
	u8 retransmits;   // icsk_retransmits
	u8 probes;        // icsk_probes_out
	u8 backoff;       // icsk_backoff
	u8 shutdown;      // sk_shutdown
	u8 pad1;
	u64 cookie;       // skc_cookie: 0 until something asked for it
	u8 saddr[16];     // local address: IPv4 in the first four bytes
	u8 daddr[16];     // remote address
	s32 expires;      // jiffies until the pending timer fires (<= 0: due)
	u32 rto;          // icsk_rto, jiffies
	u32 since_data_sent; // jiffies since tp->lsndtime
	u32 since_data_recv; // jiffies since icsk_ack.lrcvtime
	u32 since_ack_recv;  // jiffies since tp->rcv_tstamp
	u32 rqueue;
	u32 wqueue;
	u32 unacked;      // tcpi_unacked: packets_out (LISTEN: the accept backlog)
	u32 total_retrans;
	u32 segs_out;
	u32 notsent;      // tcpi_notsent_bytes
	u32 snd_wnd;
	u32 uid;
	u32 pad2;
};

_Static_assert(sizeof(struct rec) == 136, "struct rec layout changed: update iter.go");

const struct rec *unused_rec __attribute__((unused));

#define AF_INET 2
#define TCP_LISTEN 10
#define ICSK_TIME_RETRANS 1
#define ICSK_TIME_PROBE0 3
#define ICSK_TIME_LOSS_PROBE 5
#define ICSK_TIME_REO_TIMEOUT 6

// diag_fill fills what inet_diag would report: inet_sk_diag_fill's timer
// and queues, tcp_get_info's counters (include/net/inet_diag, Linux 6.18
// and 5.10 alike; times as jiffies, which the reader turns into
// milliseconds with the namespace's HZ).
static __always_inline void diag_fill(struct rec *r, struct tcp_sock *tp, struct sock *sk)
{
	struct inet_connection_sock *icsk = &tp->inet_conn;
	u32 now = (u32)bpf_jiffies64();
	unsigned long timeout;
	u8 pending = icsk->icsk_pending;

	if (bpf_core_field_exists(icsk->icsk_timeout))
		timeout = icsk->icsk_timeout;
	else
		timeout = icsk->icsk_retransmit_timer.expires;
	if (pending == ICSK_TIME_RETRANS || pending == ICSK_TIME_REO_TIMEOUT || pending == ICSK_TIME_LOSS_PROBE) {
		r->timer = 1;
		r->retrans = icsk->icsk_retransmits;
		r->expires = (s32)((u32)timeout - now);
	} else if (pending == ICSK_TIME_PROBE0) {
		r->timer = 4;
		r->retrans = icsk->icsk_probes_out;
		r->expires = (s32)((u32)timeout - now);
	} else {
		// The keepalive timer: sk_timer, or in kernels that moved it
		// (Debian's 6.12) icsk_keepalive_timer; timer_pending is a
		// non-NULL pprev.
		struct timer_list *ka = &sk->sk_timer;
		if (bpf_core_field_exists(icsk->icsk_keepalive_timer))
			ka = &icsk->icsk_keepalive_timer;
		if (ka->entry.pprev) {
			r->timer = 2;
			r->retrans = icsk->icsk_probes_out;
			r->expires = (s32)((u32)ka->expires - now);
		}
	}
	r->retransmits = icsk->icsk_retransmits;
	r->probes = icsk->icsk_probes_out;
	r->backoff = icsk->icsk_backoff;
	r->shutdown = sk->sk_shutdown;
	r->cookie = sk->__sk_common.skc_cookie.counter;
	if (r->family == AF_INET) {
		*(u32 *)r->saddr = sk->__sk_common.skc_rcv_saddr;
		*(u32 *)r->daddr = sk->__sk_common.skc_daddr;
	} else {
		for (int i = 0; i < 4; i++) {
			((u32 *)r->saddr)[i] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[i];
			((u32 *)r->daddr)[i] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[i];
		}
	}
	r->rto = icsk->icsk_rto;
	r->since_data_sent = now - tp->lsndtime;
	r->since_data_recv = now - icsk->icsk_ack.lrcvtime;
	r->since_ack_recv = now - tp->rcv_tstamp;
	if (r->state == TCP_LISTEN) {
		r->rqueue = sk->sk_ack_backlog;
		r->wqueue = sk->sk_max_ack_backlog;
		r->unacked = sk->sk_ack_backlog;
	} else {
		s32 rq = (s32)(tp->rcv_nxt - tp->copied_seq);
		r->rqueue = rq > 0 ? rq : 0;
		r->wqueue = tp->write_seq - tp->snd_una;
		r->unacked = tp->packets_out;
	}
	r->total_retrans = tp->total_retrans;
	r->segs_out = tp->segs_out;
	s32 ns = (s32)(tp->write_seq - tp->snd_nxt);
	r->notsent = ns > 0 ? ns : 0;
	r->snd_wnd = tp->snd_wnd;
	r->uid = sk->sk_uid.val;
}

// Fields are read with direct loads from the BTF-typed pointers the
// iterator and bpf_skc_to_tcp_sock hand out (the verifier turns them into
// fault-safe loads), not with bpf_probe_read_kernel: a helper call per
// field was the largest part of a 20,000-socket run.
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
	sk = &tp->inet_conn.icsk_inet.sk;
	so = sk->sk_socket;
	if (so) {
		// container_of is pointer arithmetic the verifier refuses on a
		// BTF pointer: this one read goes through the helper.
		struct socket_alloc *sa = (void *)((char *)so - bpf_core_field_offset(struct socket_alloc, socket));
		r.inode = BPF_CORE_READ(sa, vfs_inode.i_ino);
	}
	net = sk->__sk_common.skc_net.net;
	r.family = sk->__sk_common.skc_family;
	r.state = sk->__sk_common.skc_state;
	r.sport = sk->__sk_common.skc_num;
	r.dport = __builtin_bswap16(sk->__sk_common.skc_dport);
	flags = sk->__sk_common.skc_flags;
	r.keepalive = !!(flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_KEEPOPEN)));

	r.net_keepidle = net->ipv4.sysctl_tcp_keepalive_time;
	r.keepidle = tp->keepalive_time;
	if (!r.keepidle)
		r.keepidle = r.net_keepidle;
	r.keepintvl = tp->keepalive_intvl;
	if (!r.keepintvl)
		r.keepintvl = net->ipv4.sysctl_tcp_keepalive_intvl;
	r.keepcnt = tp->keepalive_probes;
	if (!r.keepcnt)
		r.keepcnt = net->ipv4.sysctl_tcp_keepalive_probes;
	r.syncnt = tp->inet_conn.icsk_syn_retries;
	if (!r.syncnt)
		r.syncnt = net->ipv4.sysctl_tcp_syn_retries;
	r.user_timeout = tp->inet_conn.icsk_user_timeout;

	diag_fill(&r, tp, sk);
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}

#define S_IFMT 00170000
#define S_IFSOCK 0140000

// struct owner is one descriptor of a process on a socket.
struct owner {
	u64 inode;     // the socket's inode
	u32 tgid;      // process id, in the initial pid namespace
	u32 fd;        // descriptor number in that process
	char comm[16]; // the task's command
};

_Static_assert(sizeof(struct owner) == 32, "struct owner layout changed: update owners.go");

const struct owner *unused_owner __attribute__((unused));

// flt_iter_owners walks every descriptor of every process (threads sharing
// their leader's table are skipped by the kernel) and writes one struct
// owner for each socket: what /proc/PID/fd readlinks tell, without a
// system call per descriptor. It reads the file's inode with direct loads
// and the command with one bpf_probe_read_kernel_str; the reader keeps
// the descriptors on the sockets it looks for, by inode (a TCP socket's
// inode is what the socket iterator wrote), and skips the rest. Finding
// the protocol here took three bpf_probe_read_kernel calls more a socket
// descriptor (file, socket, sock), on every one of the host: a twentieth
// of a scan's CPU.
SEC("iter/task_file")
int flt_iter_owners(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct inode *ino;
	struct owner o = {};

	if (!task || !file)
		return 0;
	ino = file->f_inode;
	if (!ino || (ino->i_mode & S_IFMT) != S_IFSOCK)
		return 0;
	o.inode = ino->i_ino;
	o.tgid = task->tgid;
	o.fd = ctx->fd;
	BPF_CORE_READ_STR_INTO(&o.comm, task, comm);
	bpf_seq_write(seq, &o, sizeof(o));
	return 0;
}
