// Package kernel is flatline's model of the Linux TCP stack: every kernel
// rule the rest of flatline computes with lives here once, read from
// net/ipv4/tcp_timer.c, include/net/tcp.h and kernel/time/timer.c, and
// checked against the kernel in the lab.
//
//   - the timer wheel (Wheel, Granularity, Bucket) and what an unknown HZ
//     means;
//   - retransmission: RTO limits, FirstRetransmission, the tcp_retries2
//     give-up (RetransmitGiveUp), the SYN schedule (SynTimeouts,
//     SynGiveUp) and what a socket part-way through them has left
//     (RetransmitLeft, SynElapsed);
//   - keepalive: one firing of tcp_keepalive_timer (KeepaliveFire, with
//     its kill rule KeepaliveKills), the firing sequence simulated on the
//     wheel (Keepalive.Death: which firing kills, given the user timeout
//     and the lateness that accumulates from firing to firing), the time
//     left from a socket's own clock (Keepalive.Left) and the keepalive
//     clock (Quiet);
//   - tcp_info → what the connection is doing (Traffic) and what ended it
//     (EndedBy);
//   - HZ discovery (HostHZ: ParseConfigHZ, the timer list;
//     HZFromKeepaliveTime) and jiffies (JiffiesDuration, KeepaliveSeconds);
//   - a stock kernel's sysctl defaults and the options' limits, the
//     socket-option table with its units (Options, SetOptions, GetOptions,
//     Rearm, FD) and TCP_INFO (ReadTCPInfo);
//   - kernel versions (ParseVersion, ZeroWindowFixed);
//   - running code in a network namespace (InNetNS).
//
// It is internal: flatline's packages call it; users call the root
// package's Config, Plan, Settings.Bounds and ReadSettings.
package kernel
