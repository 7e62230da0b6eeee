/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A minimal vmlinux.h for flatline's BPF programs (trace/ and
 * internal/bpfiter/): only the kernel types and fields they read, written
 * by hand after `bpftool btf dump file /sys/kernel/btf/vmlinux format c`
 * on Linux 6.18. Every struct carries preserve_access_index, so field
 * offsets are relocated (CO-RE) against the running kernel's BTF when the
 * program loads: the layout written here does not have to match any kernel,
 * only the field names and types do. Fields that live in anonymous unions
 * in the kernel (skc_daddr, skc_flags, ...) are written flat; the loader
 * finds them by name.
 */
#ifndef FLATLINE_VMLINUX_H
#define FLATLINE_VMLINUX_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__be32 u6_addr32[4];
	} in6_u;
};

struct netns_ipv4 {
	int sysctl_tcp_keepalive_time;
	int sysctl_tcp_keepalive_intvl;
	u8 sysctl_tcp_keepalive_probes;
	u8 sysctl_tcp_syn_retries;
	u8 sysctl_tcp_retries2;
};

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
	struct netns_ipv4 ipv4;
};

typedef struct {
	struct net *net;
} possible_net_t;

typedef struct {
	s64 counter;
} atomic64_t;

typedef struct {
	__u32 val;
} kuid_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	atomic64_t skc_cookie;
	unsigned long skc_flags;
};

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
};

struct sock;

struct socket {
	short type;
	struct sock *sk;
};

struct file {
	struct inode *f_inode;
	void *private_data;
};

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
};

struct socket_alloc {
	struct socket socket;
	struct inode vfs_inode;
};

struct kernfs_node {
	u64 id;
};

struct cgroup {
	struct kernfs_node *kn;
};

struct sock_cgroup_data {
	struct cgroup *cgroup;
};

struct hlist_node {
	struct hlist_node *next;
	struct hlist_node **pprev;
};

struct timer_list {
	struct hlist_node entry;
	unsigned long expires;
};

struct sock {
	struct sock_common __sk_common;
	int sk_err;
	int sk_err_soft;
	struct socket *sk_socket;
	u16 sk_protocol;
	u16 sk_type;
	struct timer_list sk_timer;
	struct sock_cgroup_data sk_cgrp_data;
	u8 sk_shutdown;
	kuid_t sk_uid;
	u32 sk_ack_backlog;
	u32 sk_max_ack_backlog;
};

struct inet_sock {
	struct sock sk;
	__be16 inet_sport;
};

struct inet_connection_sock {
	struct inet_sock icsk_inet;
	struct timer_list icsk_retransmit_timer;
	unsigned long icsk_timeout; // gone in Linux 6.15: icsk_retransmit_timer.expires
	struct timer_list icsk_keepalive_timer; // some kernels (Debian's 6.12): keepalive off sk_timer
	__u32 icsk_rto;
	struct {
		__u32 lrcvtime;
	} icsk_ack;
	__u8 icsk_retransmits;
	__u8 icsk_pending;
	__u8 icsk_backoff;
	__u8 icsk_probes_out;
	__u8 icsk_syn_retries;
	u32 icsk_user_timeout;
};

struct tcp_sock {
	struct inet_connection_sock inet_conn;
	u32 snd_wnd;
	u32 snd_una;
	u32 snd_nxt;
	u32 write_seq;
	u32 lsndtime;
	u32 rcv_tstamp;
	u32 retrans_stamp;
	u32 total_retrans;
	u32 packets_out;
	u32 rcv_nxt;
	u32 copied_seq;
	u32 segs_out;
	unsigned int keepalive_time;
	unsigned int keepalive_intvl;
	u8 keepalive_probes;
};

struct seq_file {
	char *buf;
};

struct bpf_iter_meta {
	struct seq_file *seq;
	u64 session_id;
	u64 seq_num;
};

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
	unsigned int uid;
};

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	u32 fd;
	struct file *file;
};

#pragma clang attribute pop

enum sock_flags {
	SOCK_DEAD = 0,
	SOCK_KEEPOPEN = 3,
};

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

#endif /* FLATLINE_VMLINUX_H */
