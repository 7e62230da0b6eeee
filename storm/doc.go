// Package storm predicts, prevents and finds keepalive storms: many
// connections whose keepalive timers fire in the same kernel tick, so that
// their probes leave in one burst that a policed or congested link drops,
// and healthy connections are declared dead.
//
// The model (Wheel, Model) follows the kernel: a keepalive timer is a
// timer-wheel timer (kernel/time/timer.c), queued at the level whose range
// holds its delay and fired at the end of that level's bucket, 8^level
// jiffies wide (at HZ=250: 32 ms for 0.25-2 s ahead, 256 ms for 2-16 s,
// 2.048 s for 16-129 s). tcp_keepalive_timer (net/ipv4/tcp_timer.c) probes
// when the time since the last received segment reaches the idle time, then
// re-arms the interval later; an answered probe resets the last receive.
// Connections armed within one bucket therefore probe together forever.
//
// Strategies (Planner, Conns) de-phase connections made together; Model.Run
// gives the probes they cause, WorstBurst the largest burst and Floor the
// smallest worst burst the wheel allows. The capture side (ReadCapture,
// Detector) finds keepalive probes in pcap and pcapng files the way
// Wireshark's tcp.analysis.keep_alive does.
//
// # Choosing the spreading mechanism, by measurement
//
// RunLab (flatline lab storm) opened 2000 idle connections at once through
// a router policing ACK-only packets at 2000/s, burst 502, with the
// keepalive settings of a 10 s timeout (4s/1s/3, user timeout 6.8 s) and a
// spread budget of 3 s, HZ=250, Linux 6.18:
//
//	strategy   falsely dead   worst burst (model)
//	static     1556-1721      1001-1154 (1154-1757, cut by the CPU backlog)
//	jitter     1018-1128       641-729  (666-774)   idle lowered 0-3 whole seconds
//	coprime    1261-1298      1197-1264 (1200-1265) idle 4, 3 or 1 s
//	flatline   0               192-201  (189-190)   random arming delay in [0, 3 s)
//	offsets    0               195-206  (195-206)   the same, drawn by the lab
//	golden     0               173-174  (173-174)   golden-ratio arming delays
//
// The wheel's floor is 2000 · 256 ms / 3 s = 171. Changing the idle time per
// connection (jitter, coprime) does not de-phase: periods that differ by
// whole seconds meet again at common multiples, and the lower idle values
// add probes. Arming offsets do: each connection keeps the phase of its
// first firing, so offsets spread over the budget reach the floor, and a
// low-discrepancy sequence (golden) reaches it without the random pile-ups
// of independent draws.
package storm
