package kernel

import "time"

// Spreading by jitter: the rule of the programs that set a connection's
// options once and cannot come back later to re-arm its keepalive (enforce's
// eBPF programs, at connect and accept; apply, on a live process). Each
// connection gets an offset j, a multiple of a step, added to TCP_KEEPIDLE
// and TCP_USER_TIMEOUT together: its whole keepalive schedule moves j
// later, the chain keeps its Count probes before the user timeout, and a
// stalled send is noticed up to j later. (A program that can wait, the
// library's Dialer, re-arms the keepalive timer after a random delay
// instead: the schedule's period stays Idle and only its phase moves.)

// JitterStep is the spacing of jitter offsets for a keepalive idle period:
// the timer wheel's bucket at that horizon, the coarsest over CommonHZ,
// rounded up to whole seconds (TCP_KEEPIDLE's unit). Offsets closer than a
// bucket would land in the same bucket at the first firing (HZ=250 rounds
// timers 16-131 s ahead to 2.048 s, so whole seconds apart is not apart).
func JitterStep(idle time.Duration) time.Duration {
	g := Granularity(0, idle)
	return max(time.Second, (g + time.Second - 1).Truncate(time.Second))
}

// JitterOffsets returns how many offsets, step apart from 0, fit strictly
// below spread and at most room (how much later than planned a stalled send
// may be noticed). One offset (zero) means no jitter.
func JitterOffsets(spread, room, step time.Duration) int {
	if step <= 0 || spread <= 0 || room < 0 {
		return 1
	}
	largest := min(spread-1, room)
	return 1 + int(largest/step)
}

// Jitter is a connection's offset: one of n offsets step apart, picked by a
// multiplicative hash of its local and remote ports (host byte order), so
// that connections opened together (consecutive ephemeral ports) take
// different ones and enforce's two programs agree without per-socket
// storage. enforce.c's jitter() is the same arithmetic in C; enforce's
// tests compare the two on real sockets.
func Jitter(n int, step time.Duration, lport, rport uint16) time.Duration {
	if n < 2 {
		return 0
	}
	h := (uint32(lport)<<16 | uint32(rport)) * 2654435761
	return time.Duration((h>>16)%uint32(n)) * step
}

// SpreadSlot is the resolution of a re-arm delay for a keepalive idle
// period: a quarter of the finest timer-wheel bucket over CommonHZ at that
// horizon. Re-arm instants closer than a bucket fire in the same bucket, so
// finer draws buy nothing; but the kernel's buckets are not aligned with a
// spreader's slots, and a bucket that straddles two whole-bucket slots
// gathers both (measured: 33 of 100 connections in one 256 ms bucket with
// 213 ms slots, against 20 with independent draws). With quarter-bucket
// slots a bucket gathers four or five slots, about what independent draws
// put there.
func SpreadSlot(idle time.Duration) time.Duration {
	finest := time.Duration(0)
	for _, h := range CommonHZ() {
		if g := MustWheel(h).Granularity(idle); finest == 0 || g < finest {
			finest = g
		}
	}
	return finest / 4
}
