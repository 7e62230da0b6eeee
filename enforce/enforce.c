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
 * Spreading: each connection draws a jitter j in whole seconds, [0,
 * spread), added to both TCP_KEEPIDLE and TCP_USER_TIMEOUT (so the user
 * timeout keeps its place between keepalive firings). j is kept per socket
 * (sk_storage) so that guard clamps to the same values.
 */

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

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
	__u32 spread;       /* jitter range, whole seconds; 0 or 1: none */
	__u32 allow_looser; /* non-zero: guard lets looser values through */
	__u32 _pad;
};

/* Counters, one slot each, read by user space (enforce.Stats). */
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
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COUNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* The jitter a socket drew, whole seconds. */
struct sock_jitter {
	__u32 jitter;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_jitter);
} jitters SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline struct plan *get_plan(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&plan_map, &zero);
}

static __always_inline void set(struct bpf_sock_ops *skops, int level, int opt, int v)
{
	if (bpf_setsockopt(skops, level, opt, &v, sizeof(v)))
		count(COUNT_SET_ERRORS);
}

SEC("sockops")
int apply(struct bpf_sock_ops *skops)
{
	__u32 slot;

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		slot = COUNT_ACTIVE;
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		slot = COUNT_PASSIVE;
		break;
	default:
		return 1;
	}
	if (skops->family != AF_INET && skops->family != AF_INET6)
		return 1;
	struct plan *p = get_plan();
	if (!p || p->idle == 0)
		return 1;

	__u32 j = 0;
	if (p->spread > 1)
		j = bpf_get_prandom_u32() % p->spread;
	struct bpf_sock *sk = skops->sk;
	if (sk) {
		struct sock_jitter *sj = bpf_sk_storage_get(&jitters, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (sj)
			sj->jitter = j;
		else
			j = 0; /* guard would not know it: stay on the plan */
	}

	/* The values first, then SO_KEEPALIVE, which arms the timer. */
	set(skops, SOL_TCP, TCP_KEEPIDLE, p->idle + j);
	set(skops, SOL_TCP, TCP_KEEPINTVL, p->intvl);
	set(skops, SOL_TCP, TCP_KEEPCNT, p->cnt);
	set(skops, SOL_SOCKET, SO_KEEPALIVE, 1);
	if (p->user_timeout)
		set(skops, SOL_TCP, TCP_USER_TIMEOUT, p->user_timeout + j * 1000);
	if (p->syncnt)
		set(skops, SOL_TCP, TCP_SYNCNT, p->syncnt);
	count(slot);
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

	__u32 j = 0;
	struct sock_jitter *sj = bpf_sk_storage_get(&jitters, sk, 0, 0);
	if (sj)
		j = sj->jitter;

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
