// SPDX-License-Identifier: GPL-2.0
//go:build ignore

/*
 * flatline enforce: the kernel half.
 *
 * apply (sock_ops) gives every TCP connection of the cgroup the plan's
 * options from its SYN on: on BPF_SOCK_OPS_TCP_CONNECT_CB (an active open,
 * before the SYN leaves) and on BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB (an
 * accepted connection). bpf_setsockopt of these options from sock_ops
 * needs Linux 5.9.
 *
 * guard (cgroup/setsockopt, Linux 5.3) sees every setsockopt a process of
 * the cgroup makes on a TCP socket and, unless the plan allows looser
 * values, rewrites a keepalive or user-timeout value looser than the
 * socket's plan into the plan's.
 *
 * apply only tightens: a value the program set before connecting that is
 * already stricter than the plan is kept. apply reads the socket's values
 * from the kernel's own struct tcp_sock (bpf_skc_to_tcp_sock, loads
 * relocated by CO-RE against the kernel's BTF: Linux 5.10, BTF, and the
 * kernel's HZ passed in by user space); apply_getsockopt, loaded in its
 * place (and named apply) where that cannot load, asks bpf_getsockopt for
 * each (Linux 6.1; older kernels refuse, and the plan's value is set). The
 * reads were the programs' main work of their own: five bpf_getsockopt
 * calls an end took apply 0.17-0.23 µs a connection more than the loads
 * (BenchmarkConnectAccept's BPF run-time figures).
 *
 * Spreading (internal/kernel/jitter.go, the same arithmetic in Go): each
 * connection gets an offset j, one of plan.offsets values plan.step seconds
 * apart, added to both TCP_KEEPIDLE and TCP_USER_TIMEOUT, so that its whole
 * keepalive schedule moves j later and the user timeout keeps its place
 * between keepalive firings. The step is the timer wheel's bucket at the
 * idle period's horizon: closer offsets would fire in the same bucket. j is
 * a hash of the connection's two ports, so that both programs compute the
 * same j without per-socket storage, and connections made together
 * (distinct ephemeral ports) get different ones. The plan's bounds include
 * the largest j (flatline.Plan.MaxJitter).
 */

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOL_SOCKET 1
#define SO_KEEPALIVE 9
#define SOL_TCP 6
#define TCP_KEEPIDLE 4
#define TCP_KEEPINTVL 5
#define TCP_KEEPCNT 6
#define TCP_SYNCNT 7
#define TCP_USER_TIMEOUT 18

/* plan is what user space writes into plan_map: the options of
 * flatline.Config{Timeout}.Plan(). Zero syncnt leaves TCP_SYNCNT alone. */
struct plan {
	__u32 idle;         /* TCP_KEEPIDLE, s */
	__u32 intvl;        /* TCP_KEEPINTVL, s */
	__u32 cnt;          /* TCP_KEEPCNT */
	__u32 user_timeout; /* TCP_USER_TIMEOUT, ms */
	__u32 syncnt;       /* TCP_SYNCNT, 0: leave the kernel's */
	__u32 offsets;      /* how many jitter offsets; 0 or 1: none */
	__u32 allow_looser; /* non-zero: guard lets looser values through */
	__u32 step;         /* between jitter offsets, whole seconds */
	__u32 hz;           /* the kernel's CONFIG_HZ (jiffies a second); 0: unknown */
};

/* The kernel's structures, as far as apply reads them: CO-RE relocates
 * each field access against the running kernel's BTF (the ___fl suffix is
 * ignored when matching). Keepalive times are jiffies; zero means "not set
 * on this socket": the network namespace's sysctl applies, as getsockopt
 * reports. The sysctls' widths changed (int, then u8 in Linux 6.0 for the
 * counts): read through bpf_core_field_size. */
struct netns_ipv4___fl {
	int sysctl_tcp_keepalive_time;
	int sysctl_tcp_keepalive_intvl;
	__u8 sysctl_tcp_keepalive_probes;
	__u8 sysctl_tcp_syn_retries;
} __attribute__((preserve_access_index));

struct net___fl {
	struct netns_ipv4___fl ipv4;
} __attribute__((preserve_access_index));

struct sock_common___fl {
	struct {
		struct net___fl *net;
	} skc_net;
} __attribute__((preserve_access_index));

struct sock___fl {
	struct sock_common___fl __sk_common;
} __attribute__((preserve_access_index));

struct inet_sock___fl {
	struct sock___fl sk;
} __attribute__((preserve_access_index));

struct inet_connection_sock___fl {
	struct inet_sock___fl icsk_inet;
	__u32 icsk_user_timeout;
	__u8 icsk_syn_retries;
} __attribute__((preserve_access_index));

struct tcp_sock___fl {
	struct inet_connection_sock___fl inet_conn;
	__u32 keepalive_time;
	__u32 keepalive_intvl;
	__u8 keepalive_probes;
} __attribute__((preserve_access_index));

/* Counters, one slot each, read by user space (enforce.Stats), which sums
 * the CPUs' copies: a connection's two ends run on different CPUs, and one
 * shared counter would bounce its cache line between them. */
enum counter {
	COUNT_ACTIVE,        /* connections configured at connect */
	COUNT_PASSIVE,       /* connections configured at accept */
	COUNT_SET_ERRORS,    /* bpf_setsockopt calls that failed */
	COUNT_CLAMPED,       /* setsockopt values guard made stricter */
	COUNT_LOOSER_PASSED, /* looser values let through (allow_looser) */
	COUNT_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct plan);
} plan_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* jitter is j in whole seconds for a connection between local port lport
 * and remote port rport (host byte order): a multiplicative hash, so that
 * ports handed out in sequence spread over the offsets (kernel.Jitter).
 * Before connect both ports are 0 and j is 0. */
static __always_inline __u32 jitter(const struct plan *p, __u32 lport, __u32 rport)
{
	if (p->offsets < 2)
		return 0;
	__u32 h = ((lport & 0xffff) << 16 | (rport & 0xffff)) * 2654435761u;
	return (h >> 16) % p->offsets * p->step;
}

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &slot);

	/* Atomic although the copy is this CPU's: a softirq may run a program
	 * between a process-context program's load and store. */
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline struct plan *get_plan(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&plan_map, &zero);
}

/* cur are a socket's values of the options apply sets, in the units of
 * getsockopt (seconds, milliseconds); 0 where unknown. */
struct cur {
	int idle, intvl, cnt, user_timeout, syncnt;
};

/* tighten sets a TCP option to v unless the socket already has a value
 * at least as strict (positive and not above v). */
static __always_inline void tighten(struct bpf_sock_ops *skops, int opt, int cur, int v)
{
	if (cur > 0 && cur <= v)
		return;
	if (bpf_setsockopt(skops, SOL_TCP, opt, &v, sizeof(v)))
		count(COUNT_SET_ERRORS);
}

/* set_plan gives the socket the plan, keeping stricter values in c. slot
 * says which end: an accepted connection sends no SYN. */
static __always_inline void set_plan(struct bpf_sock_ops *skops, const struct plan *p, const struct cur *c, __u32 slot)
{
	__u32 j = jitter(p, skops->local_port, bpf_ntohl(skops->remote_port));

	/* The values first, then SO_KEEPALIVE, which arms the timer. */
	tighten(skops, TCP_KEEPIDLE, c->idle, p->idle + j);
	tighten(skops, TCP_KEEPINTVL, c->intvl, p->intvl);
	tighten(skops, TCP_KEEPCNT, c->cnt, p->cnt);
	/* On already is a no-op in the kernel: no need to read it first. */
	int on = 1;
	if (bpf_setsockopt(skops, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)))
		count(COUNT_SET_ERRORS);
	if (p->user_timeout)
		tighten(skops, TCP_USER_TIMEOUT, c->user_timeout, p->user_timeout + j * 1000);
	if (p->syncnt && slot == COUNT_ACTIVE)
		tighten(skops, TCP_SYNCNT, c->syncnt, p->syncnt);
	count(slot);
}

/* plan_for returns the plan and the counter slot when skops is a callback
 * apply works on, NULL otherwise (most callbacks: it returns at once). */
static __always_inline struct plan *plan_for(struct bpf_sock_ops *skops, __u32 *slot)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		*slot = COUNT_ACTIVE;
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		*slot = COUNT_PASSIVE;
		break;
	default:
		return 0;
	}
	if (skops->family != AF_INET && skops->family != AF_INET6)
		return 0;
	struct plan *p = get_plan();
	if (!p || p->idle == 0)
		return 0;
	return p;
}

/* sysctl_u8 reads a namespace sysctl that is a u8 since Linux 6.0 and an
 * int before. */
#define sysctl_u8(ipv4, field) \
	(bpf_core_field_size((ipv4)->field) == 1 ? (int)*(__u8 *)&(ipv4)->field : *(int *)&(ipv4)->field)

SEC("sockops")
int apply(struct bpf_sock_ops *skops)
{
	__u32 slot;
	struct plan *p = plan_for(skops, &slot);
	if (!p)
		return 1;
	struct cur c = {};
	struct bpf_sock *sk = skops->sk;
	struct tcp_sock___fl *tp = sk ? (struct tcp_sock___fl *)bpf_skc_to_tcp_sock(sk) : 0;
	__u32 hz = p->hz;

	if (tp && hz) {
		struct netns_ipv4___fl *ipv4 = &tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net->ipv4;
		__u32 t = tp->keepalive_time, i = tp->keepalive_intvl, n = tp->keepalive_probes;

		c.idle = (t ? t : (__u32)ipv4->sysctl_tcp_keepalive_time) / hz;
		c.intvl = (i ? i : (__u32)ipv4->sysctl_tcp_keepalive_intvl) / hz;
		c.cnt = n ? n : sysctl_u8(ipv4, sysctl_tcp_keepalive_probes);
		c.user_timeout = tp->inet_conn.icsk_user_timeout;
		n = tp->inet_conn.icsk_syn_retries;
		c.syncnt = n ? n : sysctl_u8(ipv4, sysctl_tcp_syn_retries);
	}
	/* Without them (no socket, HZ unknown) c stays 0: the plan is set. */
	set_plan(skops, p, &c, slot);
	return 1;
}

/* getsockopt_cur is bpf_getsockopt's value of a TCP option, 0 where the
 * kernel refuses (before Linux 6.1). */
static __always_inline int getsockopt_cur(struct bpf_sock_ops *skops, int opt)
{
	int v = 0;

	if (bpf_getsockopt(skops, SOL_TCP, opt, &v, sizeof(v)))
		return 0;
	return v;
}

SEC("sockops")
int apply_getsockopt(struct bpf_sock_ops *skops)
{
	__u32 slot;
	struct plan *p = plan_for(skops, &slot);
	if (!p)
		return 1;
	struct cur c = {
		.idle = getsockopt_cur(skops, TCP_KEEPIDLE),
		.intvl = getsockopt_cur(skops, TCP_KEEPINTVL),
		.cnt = getsockopt_cur(skops, TCP_KEEPCNT),
	};
	if (p->user_timeout)
		c.user_timeout = getsockopt_cur(skops, TCP_USER_TIMEOUT);
	if (p->syncnt && slot == COUNT_ACTIVE)
		c.syncnt = getsockopt_cur(skops, TCP_SYNCNT);
	set_plan(skops, p, &c, slot);
	return 1;
}

/* stricter returns the value guard lets the kernel see: v, or the plan's
 * want when v is looser. zero_is_loosest: 0 means "none" (user timeout). */
static __always_inline int stricter(int v, int want, int zero_is_loosest)
{
	if (v <= 0 && zero_is_loosest)
		return want;
	if (v > want)
		return want;
	return v;
}

SEC("cgroup/setsockopt")
int guard(struct bpf_sockopt *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	int want, got;

	if (!sk || sk->protocol != IPPROTO_TCP || (sk->family != AF_INET && sk->family != AF_INET6))
		goto pass;
	if (ctx->level == SOL_SOCKET) {
		if (ctx->optname != SO_KEEPALIVE)
			goto pass;
	} else if (ctx->level == SOL_TCP) {
		if (ctx->optname != TCP_KEEPIDLE && ctx->optname != TCP_KEEPINTVL &&
		    ctx->optname != TCP_KEEPCNT && ctx->optname != TCP_USER_TIMEOUT &&
		    ctx->optname != TCP_SYNCNT)
			goto pass;
	} else {
		goto pass;
	}

	struct plan *p = get_plan();
	if (!p || p->idle == 0)
		goto pass;
	int *v = ctx->optval;
	if ((void *)(v + 1) > ctx->optval_end)
		goto pass; /* short or oversized value: the kernel judges it */
	got = *v;

	__u32 j = jitter(p, sk->src_port, bpf_ntohs(sk->dst_port));

	if (ctx->level == SOL_SOCKET) {
		want = got ? got : 1;
	} else {
		switch (ctx->optname) {
		case TCP_KEEPIDLE:
			want = stricter(got, p->idle + j, 0);
			break;
		case TCP_KEEPINTVL:
			want = stricter(got, p->intvl, 0);
			break;
		case TCP_KEEPCNT:
			want = stricter(got, p->cnt, 0);
			break;
		case TCP_USER_TIMEOUT:
			if (!p->user_timeout)
				goto pass;
			want = stricter(got, p->user_timeout + j * 1000, 1);
			break;
		default: /* TCP_SYNCNT */
			if (!p->syncnt)
				goto pass;
			want = stricter(got, p->syncnt, 0);
			break;
		}
	}
	if (want == got)
		goto pass;
	if (p->allow_looser) {
		count(COUNT_LOOSER_PASSED);
		goto pass;
	}
	*v = want;
	count(COUNT_CLAMPED);
	return 1; /* the kernel sets the rewritten value */

pass:
	/* Let the kernel use the caller's own buffer (also the only way for a
	 * value longer than a page). */
	ctx->optlen = 0;
	return 1;
}

char _license[] SEC("license") = "GPL";
