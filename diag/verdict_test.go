package diag

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/google/go-cmp/cmp"
)

func withRetrans(m DiagMsg, n int) DiagMsg {
	m.Retrans = n
	return m
}

func TestJudge(t *testing.T) {
	h := flatline.LinuxDefaults()
	h.HZ = 250
	ka := func(idle, intvl time.Duration, count int, ut time.Duration) *flatline.Settings {
		return &flatline.Settings{KeepAlive: true, Idle: idle, Interval: intvl, Count: count, UserTimeout: ut}
	}
	off := &flatline.Settings{Idle: 2 * time.Hour, Interval: 75 * time.Second, Count: 9}
	msg := func(st TCPState, timer Timer, expiresMS uint32, ti TCPInfo) DiagMsg {
		return DiagMsg{
			Family: afInet, State: st, Timer: timer, Expires: expiresMS, Inode: 1, Info: &ti,
			Local: netip.MustParseAddrPort("10.0.0.1:1000"), Remote: netip.MustParseAddrPort("10.0.0.2:80"),
		}
	}
	type got struct {
		Traffic flatline.State
		Verdict Verdict
		Known   bool
		Never   bool
		Worst   time.Duration
	}
	// Expectations are worked out by hand at HZ=250 (timer-wheel buckets:
	// 4 ms below 252 ms, 32 ms below 2.016 s, 256 ms below 16.128 s,
	// 2.048 s below 129 s, 131.072 s below 2.2 h), each Worst the rule's
	// remainder plus the bound's slack.
	//
	// tcp_retries2 15 from a 200 ms RTO: backed-off firings 0.4, 0.8, ...,
	// 102.4 s (204.4 s), then 120 s each until past 924.6 s: 1044.4 s.
	const giveUp = 1044400 * time.Millisecond
	const ms = time.Millisecond
	syn6 := &flatline.Settings{Idle: 2 * time.Hour, Interval: 75 * time.Second, Count: 9, SynCount: 6}
	tests := []struct {
		name string
		m    DiagMsg
		set  *flatline.Settings
		want got
	}{
		{"idle keepalive 2/1/2, first probe at the timer",
			msg(StateEstablished, TimerKeepalive, 1500, TCPInfo{LastDataRecv: 500, LastAckRecv: 500}), ka(2*time.Second, time.Second, 2, 0),
			got{flatline.StateIdle, VerdictOK, true, false, 3500*ms + 96*ms}}, // slack: 32 ms (2 s) + 2×32 ms (1 s)
		{"idle keepalive, timer re-armed later than idle after last receive",
			msg(StateEstablished, TimerKeepalive, 200, TCPInfo{LastDataRecv: 100, LastAckRecv: 900}), ka(2*time.Second, time.Second, 2, 0),
			got{flatline.StateIdle, VerdictOK, true, false, 3900*ms + 96*ms}},
		{"idle keepalive, one probe out",
			msg(StateEstablished, TimerKeepalive, 1000, TCPInfo{Probes: 1, LastDataRecv: 3000, LastAckRecv: 3000}), ka(2*time.Second, time.Second, 2, 0),
			got{flatline.StateIdle, VerdictOK, true, false, 2*time.Second + 96*ms}},
		{"idle keepalive with user timeout replacing count",
			msg(StateEstablished, TimerKeepalive, 5000, TCPInfo{}), ka(5*time.Second, time.Second, 9, 8*time.Second),
			got{flatline.StateIdle, VerdictOK, true, false, 8*time.Second + 352*ms}}, // 3 probes at most (5.004, 6.008, 7.012 s; 8.016 s kills): 256 ms + 3×32 ms
		{"idle with Linux keepalive defaults",
			msg(StateEstablished, TimerKeepalive, 7_000_000, TCPInfo{LastDataRecv: 200_000, LastAckRecv: 200_000}), ka(2*time.Hour, 75*time.Second, 9, 0),
			got{flatline.StateIdle, VerdictSlow, true, false, 7000*time.Second + 675*time.Second + 149504*ms}}, // 131.072 s + 9×2.048 s
		{"idle, keepalive off",
			msg(StateEstablished, TimerOff, 0, TCPInfo{}), off,
			got{flatline.StateIdle, VerdictNever, true, true, 0}},
		{"sending, first transmission, no user timeout",
			msg(StateEstablished, TimerOn, 200, TCPInfo{Unacked: 1, RTO: 200_000}), ka(2*time.Second, time.Second, 2, 0),
			got{flatline.StateSending, VerdictSlow, true, false, 400*ms + giveUp + 2048*ms}}, // slack: the 120 s RTO's bucket
		{"stuck: three timeouts, no user timeout",
			msg(StateEstablished, TimerOn, 1600, TCPInfo{Unacked: 1, Retransmits: 3, Backoff: 3, RTO: 1_600_000}), ka(2*time.Second, time.Second, 2, 0),
			got{flatline.StateSending, VerdictStuck, true, false, giveUp - 1200*ms + 2048*ms}}, // 0.4 + 0.8 s counted
		{"stuck: timer half run, user timeout 3s",
			msg(StateEstablished, TimerOn, 1000, TCPInfo{Unacked: 1, Retransmits: 3, Backoff: 3, RTO: 1_600_000}), ka(5*time.Second, time.Second, 3, 3*time.Second),
			got{flatline.StateSending, VerdictStuck, true, false, 3*time.Second - 1800*ms + 28*ms}}, // 0.4 + 0.8 + 0.6 s counted; slack 2×4 ms + 4 ms (the last 200 ms) + 4 jiffies
		{"stuck: past the user timeout, dies at the next firing",
			msg(StateEstablished, TimerOn, 90, TCPInfo{Unacked: 1, Retransmits: 5, Backoff: 5, RTO: 6_400_000}), ka(5*time.Second, time.Second, 3, 3*time.Second),
			got{flatline.StateSending, VerdictStuck, true, false, 90*ms + 28*ms}},
		{"stuck: two timeouts, user timeout 10s",
			msg(StateEstablished, TimerOn, 800, TCPInfo{Unacked: 2, Retransmits: 2, Backoff: 2, RTO: 800_000}), ka(5*time.Second, time.Second, 5, 10*time.Second),
			got{flatline.StateSending, VerdictStuck, true, false, 9600*ms + 280*ms}}, // slack 2×4 ms + 256 ms (the last 4 s) + 16 ms
		{"one timeout is not stuck",
			msg(StateEstablished, TimerOn, 400, TCPInfo{Unacked: 2, Retransmits: 1, Backoff: 1, RTO: 400_000}), ka(5*time.Second, time.Second, 5, 10*time.Second),
			got{flatline.StateSending, VerdictOK, true, false, 10*time.Second + 280*ms}},
		{"closed window, no user timeout",
			msg(StateEstablished, TimerPersist, 400, TCPInfo{NotsentBytes: 100, HasSndWnd: true}), ka(2*time.Second, time.Second, 2, 0),
			got{flatline.StateClosedWindow, VerdictNever, true, true, 0}},
		{"closed window, user timeout 8s",
			msg(StateEstablished, TimerPersist, 400, TCPInfo{NotsentBytes: 100, HasSndWnd: true}), ka(2*time.Second, time.Second, 2, 8*time.Second),
			got{flatline.StateClosedWindow, VerdictOK, true, false, 8400*ms + 56*ms}}, // 0.4 s + U; slack 2×4 ms + 32 ms (the last 2 s) + 16 ms
		{"connecting, 6 SYN retries",
			msg(StateSynSent, TimerOn, 1000, TCPInfo{Unacked: 1}), syn6,
			got{flatline.StateConnecting, VerdictSlow, true, false, 131*time.Second + 5056*ms}}, // 5×1 s + 2+4+...+64 s; slack 5×32 ms + 32 + 3×256 ms + 2×2.048 s
		{"connecting, 6 SYN retries, 3 taken",
			withRetrans(msg(StateSynSent, TimerOn, 8000, TCPInfo{Unacked: 1, Retransmits: 3}), 3), syn6,
			got{flatline.StateConnecting, VerdictSlow, true, false, 128*time.Second + 5056*ms}}, // 3 linear 1 s timeouts taken
		// PostgreSQL's backends set to 7 s/3 s/4 with tcp_user_timeout 5000:
		// the second firing comes at 10 s, past 5 s: one lost probe kills.
		{"fragile: user timeout below idle + interval",
			msg(StateEstablished, TimerKeepalive, 5000, TCPInfo{LastDataRecv: 2000, LastAckRecv: 2000}), ka(7*time.Second, 3*time.Second, 4, 5*time.Second),
			got{flatline.StateIdle, VerdictFragile, true, false, 8*time.Second + 512*ms}}, // slack 256 ms (7 s) + 256 ms (3 s)
		{"listening",
			msg(StateListen, TimerOff, 0, TCPInfo{}), off,
			got{flatline.StateIdle, VerdictOK, true, false, 0}},
		{"time-wait, no owner",
			msg(StateTimeWait, TimerTimeWait, 50000, TCPInfo{}), nil,
			got{flatline.StateIdle, VerdictOK, true, false, 50 * time.Second}},
		{"unreadable, idle with no timer: keepalive off",
			msg(StateEstablished, TimerOff, 0, TCPInfo{}), nil,
			got{flatline.StateIdle, VerdictNever, true, true, 0}},
		{"unreadable, keepalive pending",
			msg(StateEstablished, TimerKeepalive, 1000, TCPInfo{}), nil,
			got{flatline.StateIdle, VerdictUnknown, false, false, 0}},
		{"unreadable, stuck",
			msg(StateEstablished, TimerOn, 1000, TCPInfo{Unacked: 1, Retransmits: 4, Backoff: 4, RTO: 3_200_000}), nil,
			got{flatline.StateSending, VerdictStuck, false, false, 0}},
		{"unreadable close-wait with no timer",
			msg(StateCloseWait, TimerOff, 0, TCPInfo{}), nil,
			got{flatline.StateIdle, VerdictUnknown, false, false, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Socket{DiagMsg: tt.m, Settings: tt.set}
			if tt.set == nil {
				s.OptionsErr = &OptionsError{PID: 1, FD: 3, Op: "pidfd_getfd", Needs: "CAP_SYS_PTRACE", Err: errors.New("operation not permitted")}
			}
			judge(&s, h, 30*time.Second)
			want := tt.want
			g := got{s.Traffic, s.Verdict, s.Known, s.Never, s.Worst}
			if diff := cmp.Diff(want, g); diff != "" {
				t.Errorf("judge (-want +got):\n%s\nreason: %s", diff, s.Reason)
			}
			if s.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}
