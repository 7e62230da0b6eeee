// Package kernel is flatline's model of the Linux TCP stack: every kernel
// rule the rest of flatline computes with lives here once, read from
// net/ipv4/tcp_timer.c, include/net/tcp.h and kernel/time/timer.c, and
// checked against the kernel in the lab.
//
//   - the timer wheel (Wheel, Granularity) and what an unknown HZ means;
//   - retransmission: RTO limits, FirstRetransmission, the tcp_retries2
//     give-up (RetransmitGiveUp) and the SYN schedule (SynGiveUp);
//   - keepalive: the firing rule (KeepaliveFiring), the firing sequence
//     simulated on the wheel (Keepalive.Death: which firing kills, given
//     the user timeout and the lateness that accumulates from firing to
//     firing), and the keepalive clock (Quiet);
//   - false kills (FalseKills, per state: KeepaliveRisk, SendingRisk,
//     ConnectRisk, HeartbeatRisk): how often random loss on a path makes
//     these rules declare a live peer dead, and the longest outage a
//     connection always survives;
//   - tcp_info → what the connection is doing (Traffic);
//   - HZ discovery (ParseConfigHZ, HostHZ, the timer list);
//   - the socket-option table with its units (Options, SetOptions,
//     GetOptions, Rearm) and TCP_INFO (ReadTCPInfo);
//   - running code in a network namespace (InNetNS).
//
// It is internal: flatline's packages call it; users call the root
// package's Config, Plan, Settings.Bounds and ReadSettings.
package kernel
