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
package storm
