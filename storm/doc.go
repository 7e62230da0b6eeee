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
// The lab (flatline lab storm) opened 2000 idle connections at once through
// a router policing ACK-only packets at 2000/s, with the keepalive settings
// of a 10 s timeout (4s/1s/3, user timeout 6.8 s) and a spread budget of
// 3 s, HZ=250, Linux 6.18. Two runs with a burst of 502 packets, one with
// 772:
//
//	strategy  falsely dead      worst burst       model      how
//	static    1556, 1721, 1007  1154, 1001, 995   1154-1757  all armed at creation
//	jitter    1128, 1018, 1011  729, 641, 731     666-774    idle lowered 0-3 whole s
//	coprime   1261, 1298, 1059  1264, 1197, 1158  1200-1327  idle 4, 3 or 1 s
//	flatline  0, 0, 0           201, 192, 196     184-190    random delay in [0, 3 s)
//	offsets   0, 0, 0           195, 206, 188     188-206    the same, drawn by the lab
//	golden    0, 0, 0           174, 174, 175     174-175    golden-ratio delays
//
// (Since then the lab opens every connection first and arms them all
// together: at 2000 one run gave static 1256, jitter 1209, coprime 1525,
// flatline 0 falsely dead, flatline's worst burst 185 against 190.)
// Static bursts above 1000 are cut by the sender's per-CPU input backlog
// (net.core.netdev_max_backlog) before the router sees them, hence the
// measured bursts below the model's; Model.Host now models that cut
// (kernel.BacklogBurst per CPU).
// The wheel's floor is 2000 · 256 ms / 3 s = 171. Changing the idle time per
// connection (jitter, coprime) does not de-phase: periods that differ by
// whole seconds meet again at common multiples, and the lower idle values
// add probes. Arming offsets do: each connection keeps the phase of its
// first firing, so offsets spread over the budget reach the floor, and a
// low-discrepancy sequence (golden) reaches it without the random pile-ups
// of independent draws.
package storm
