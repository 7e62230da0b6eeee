//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// flatline trace: one event for every TCP connection the kernel ends
// without the application asking (the socket reaches CLOSE with an error
// while the application still holds it), with what was outstanding, the
// socket's settings and its counters at that moment. Decoded by event.go;
// the layout of struct event is mirrored there.
//
// Only BTF tracepoints (tp_btf): fentry/fexit are refused on kernels locked
// down for integrity (as the 6.18 machine this was written on), tp_btf and
// BPF iterators are not. The write queue is purged before the state change
// to CLOSE, but the sequence numbers stay: data in flight means the
// retransmission timer gave up, data only queued means the zero-window
// probe timer did, neither means the keepalive timer did.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7
#define TCP_LISTEN 10

#define EVENT_FLAG_KEEPALIVE 1 // SO_KEEPALIVE was on
#define EVENT_FLAG_OWNER 2     // pid/comm/cgroup were recorded while it was alive
#define EVENT_FLAG_IN_FLIGHT 4 // sent data was unacknowledged (snd_nxt != snd_una)
#define EVENT_FLAG_QUEUED 8    // data waited unsent (write_seq != snd_nxt): a closed window

struct owner {
	u64 cgroup;
	u32 pid;
	char comm[16];
};

// struct event is what user space decodes (event.go): 128 bytes, little
// endian, no implicit padding.
struct event {
	u64 mono_ns;     // bpf_ktime_get_ns at death (CLOCK_MONOTONIC)
	u64 cgroup;      // owner's cgroup v2 id (the socket's own without an owner)
	u64 inode;       // socket inode, 0 when none
	u32 netns;       // network namespace inode
	u32 pid;         // owner's tgid
	char comm[16];   // owner's command
	u8 saddr[16];    // local address (IPv4 in the first 4 bytes)
	u8 daddr[16];    // remote address
	u16 sport;       // local port, host order
	u16 dport;       // remote port, host order
	u8 family;       // AF_INET or AF_INET6
	u8 old_state;    // TCP state before CLOSE
	u8 reserved;
	u8 flags;        // EVENT_FLAG_*
	s32 err;         // sk_err: the errno the application will see
	s32 err_soft;    // sk_err_soft: a soft error seen before (ICMP)
	u32 user_timeout; // TCP_USER_TIMEOUT, ms (0: not set)
	u32 keepidle;    // effective TCP_KEEPIDLE, jiffies
	u32 keepintvl;   // effective TCP_KEEPINTVL, jiffies
	u32 silent;      // jiffies since the last segment from the peer (rcv_tstamp)
	u32 total_retrans; // retransmitted segments over the connection's life
	u32 snd_wnd;     // the peer's last advertised window, bytes
	u8 keepcnt;      // effective TCP_KEEPCNT
	u8 retries2;     // net.ipv4.tcp_retries2 of its namespace
	u8 syn_retries;  // TCP_SYNCNT or net.ipv4.tcp_syn_retries
	u8 retransmits;  // icsk_retransmits at death
	u8 probes;       // icsk_probes_out at death
	u8 backoff;      // icsk_backoff at death
	u8 pad[2];
};

_Static_assert(sizeof(struct event) == 128, "struct event layout changed: update event.go");

// Keeps struct event in the BTF so bpf2go generates tracerEvent (event_test.go
// checks the decoder against its layout).
const struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

// owners maps a socket to the process that connected or accepted it.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 17);
	__type(key, u64);
	__type(value, struct owner);
} owners SEC(".maps");

// lost counts events the ring buffer had no room for.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} lost SEC(".maps");

// A listening socket's namespace and port: an accepted connection has the
// same, and is attributed to the listener's process when it is
// established (accept runs in softirq, with no process to read).
struct listen_key {
	u32 netns;
	u16 port;
	u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 14);
	__type(key, struct listen_key);
	__type(value, struct owner);
} listeners SEC(".maps");

static __always_inline void current_owner(struct owner *o)
{
	o->pid = bpf_get_current_pid_tgid() >> 32;
	o->cgroup = bpf_get_current_cgroup_id();
	bpf_get_current_comm(&o->comm, sizeof(o->comm));
}

static __always_inline void record_owner(const struct sock *sk)
{
	struct owner o = {};
	u64 key = (u64)sk;

	current_owner(&o);
	bpf_map_update_elem(&owners, &key, &o, BPF_ANY);
}

// listen_key_of is a listener's key, or an accepted connection's: its
// bound port is skc_num until it is released, inet_sport after.
static __always_inline struct listen_key listen_key_of(const struct sock *sk, bool released)
{
	struct listen_key k = {};

	k.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (released)
		k.port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	else
		k.port = sk->__sk_common.skc_num;
	return k;
}

// Sending or receiving runs in the owner's context: record it for sockets
// accepted, or connected before the tracer started (Linux 6.3+; optional).
static __always_inline int owner_if_missing(const struct sock *sk)
{
	u64 key = (u64)sk;

	if (sk->sk_protocol != IPPROTO_TCP) // a direct read: sk is a BTF pointer here
		return 0;
	if (!bpf_map_lookup_elem(&owners, &key))
		record_owner(sk);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(flt_tr_send, struct sock *sk, int ret, int flags)
{
	return owner_if_missing(sk);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(flt_tr_recv, struct sock *sk, int ret, int flags)
{
	return owner_if_missing(sk);
}

static __always_inline u64 socket_inode(const struct sock *sk)
{
	struct socket *so = BPF_CORE_READ(sk, sk_socket);
	struct socket_alloc *sa;

	if (!so)
		return 0;
	sa = (void *)((char *)so - bpf_core_field_offset(struct socket_alloc, socket));
	return BPF_CORE_READ(sa, vfs_inode.i_ino);
}

// died reports sk, which left oldstate for CLOSE with error err (sk_err,
// read once by the caller: an application's getsockopt(SO_ERROR) on
// another CPU clears sk_err, and a second read could see 0).
static __always_inline void died(const struct sock *sk, int oldstate, int err)
{
	const struct tcp_sock *tp = (void *)sk;
	const struct inet_connection_sock *icsk = (void *)sk;
	struct net *net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	u64 key = (u64)sk;
	u32 zero = 0;
	struct event *e;
	struct owner *o;
	u32 snd_una, snd_nxt;
	unsigned long flags;
	u32 now;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			*n += 1;
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->mono_ns = bpf_ktime_get_ns();
	e->inode = socket_inode(sk);
	e->netns = BPF_CORE_READ(net, ns.inum);
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	// skc_num is zeroed when the port is released, before the state
	// change to CLOSE is traced; inet_sport stays.
	e->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((u32 *)e->daddr, sk, __sk_common.skc_daddr);
	}
	e->old_state = oldstate;
	e->err = err;
	e->err_soft = BPF_CORE_READ(sk, sk_err_soft);

	flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	if (flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_KEEPOPEN)))
		e->flags |= EVENT_FLAG_KEEPALIVE;

	e->user_timeout = BPF_CORE_READ(icsk, icsk_user_timeout);
	e->retransmits = BPF_CORE_READ(icsk, icsk_retransmits);
	e->probes = BPF_CORE_READ(icsk, icsk_probes_out);
	e->backoff = BPF_CORE_READ(icsk, icsk_backoff);
	e->syn_retries = BPF_CORE_READ(icsk, icsk_syn_retries);
	if (!e->syn_retries)
		e->syn_retries = BPF_CORE_READ(net, ipv4.sysctl_tcp_syn_retries);
	e->retries2 = BPF_CORE_READ(net, ipv4.sysctl_tcp_retries2);

	e->keepidle = BPF_CORE_READ(tp, keepalive_time);
	if (!e->keepidle)
		e->keepidle = BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_time);
	e->keepintvl = BPF_CORE_READ(tp, keepalive_intvl);
	if (!e->keepintvl)
		e->keepintvl = BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_intvl);
	e->keepcnt = BPF_CORE_READ(tp, keepalive_probes);
	if (!e->keepcnt)
		e->keepcnt = BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_probes);

	now = (u32)bpf_jiffies64();
	e->silent = now - BPF_CORE_READ(tp, rcv_tstamp);
	e->total_retrans = BPF_CORE_READ(tp, total_retrans);
	e->snd_wnd = BPF_CORE_READ(tp, snd_wnd);

	snd_una = BPF_CORE_READ(tp, snd_una);
	snd_nxt = BPF_CORE_READ(tp, snd_nxt);
	if (snd_nxt != snd_una)
		e->flags |= EVENT_FLAG_IN_FLIGHT;
	if (BPF_CORE_READ(tp, write_seq) != snd_nxt)
		e->flags |= EVENT_FLAG_QUEUED;

	o = bpf_map_lookup_elem(&owners, &key);
	if (o) {
		e->flags |= EVENT_FLAG_OWNER;
		e->pid = o->pid;
		e->cgroup = o->cgroup;
		__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
	} else {
		// The cgroup the socket was created in (for an accepted one, its
		// listener's): --cgroup still applies without an owner.
		e->cgroup = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	}
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(flt_tr_state, const struct sock *sk, int oldstate, int newstate)
{
	u64 key = (u64)sk;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_SENT) {
		// connect(2) runs in the caller's context: the owner.
		record_owner(sk);
		return 0;
	}
	if (newstate == TCP_LISTEN) {
		// listen(2) too: accepted connections inherit this owner.
		struct listen_key lk = listen_key_of(sk, false);
		struct owner o = {};

		current_owner(&o);
		bpf_map_update_elem(&listeners, &lk, &o, BPF_ANY);
		return 0;
	}
	if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV) {
		struct listen_key lk = listen_key_of(sk, false);
		struct owner *o = bpf_map_lookup_elem(&listeners, &lk);

		if (o)
			bpf_map_update_elem(&owners, &key, o, BPF_NOEXIST);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	if (oldstate == TCP_LISTEN) {
		struct listen_key lk = listen_key_of(sk, true);

		bpf_map_delete_elem(&listeners, &lk);
		return 0;
	}
	int err = BPF_CORE_READ(sk, sk_err);

	if (err != 0 &&
	    !(BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DEAD))))
		died(sk, oldstate, err);
	bpf_map_delete_elem(&owners, &key);
	return 0;
}
