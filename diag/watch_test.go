package diag

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDiffPoll(t *testing.T) {
	now := time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)
	l, r := netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2")
	m := func(cookie uint64, st TCPState, timer Timer) DiagMsg {
		return DiagMsg{Family: afInet, Cookie: cookie, State: st, Timer: timer, Local: l, Remote: r, Expires: 100, Info: &TCPInfo{Unacked: 1}}
	}
	type tr struct {
		Cookie         uint64
		FromTCP, ToTCP TCPState
		From, To       Timer
		Appeared, Gone bool
	}
	polls := [][]DiagMsg{
		{m(1, StateEstablished, TimerKeepalive), m(2, StateSynSent, TimerOn)},
		{m(1, StateEstablished, TimerKeepalive), m(2, StateSynSent, TimerOn)},
		{m(1, StateEstablished, TimerOn), m(2, StateEstablished, TimerKeepalive)},
		{m(1, StateEstablished, TimerKeepalive), m(3, StateEstablished, TimerOff)},
	}
	want := [][]tr{
		{{Cookie: 1, FromTCP: StateEstablished, ToTCP: StateEstablished, To: TimerKeepalive, Appeared: true},
			{Cookie: 2, FromTCP: StateSynSent, ToTCP: StateSynSent, To: TimerOn, Appeared: true}},
		nil,
		{{Cookie: 1, FromTCP: StateEstablished, ToTCP: StateEstablished, From: TimerKeepalive, To: TimerOn},
			{Cookie: 2, FromTCP: StateSynSent, ToTCP: StateEstablished, From: TimerOn, To: TimerKeepalive}},
		{{Cookie: 1, FromTCP: StateEstablished, ToTCP: StateEstablished, From: TimerOn, To: TimerKeepalive},
			{Cookie: 3, FromTCP: StateEstablished, ToTCP: StateEstablished, Appeared: true},
			{Cookie: 2, FromTCP: StateEstablished, ToTCP: StateEstablished, From: TimerKeepalive, Gone: true}},
	}
	var prev map[uint64]watchState
	for i, p := range polls {
		var trans []Transition
		trans, prev = diffPoll(prev, p, now)
		var got []tr
		for _, x := range trans {
			if x.Time != now || x.Local != l || x.Remote != r {
				t.Errorf("poll %d: transition %+v lost its time or addresses", i, x)
			}
			if x.String() == "" {
				t.Errorf("poll %d: empty String", i)
			}
			got = append(got, tr{x.Cookie, x.FromTCP, x.ToTCP, x.From, x.To, x.Appeared, x.Gone})
		}
		if diff := cmp.Diff(want[i], got); diff != "" {
			t.Errorf("poll %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestOrderAndSummary(t *testing.T) {
	mk := func(pid int, v Verdict, worst time.Duration, never, known bool, port uint16) Socket {
		s := Socket{Verdict: v, Worst: worst, Never: never, Known: known}
		s.Local = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
		if pid > 0 {
			s.Owners = []Owner{{PID: pid, FD: int(port)}}
		}
		return s
	}
	socks := []Socket{
		mk(10, VerdictOK, 5*time.Second, false, true, 1),
		mk(20, VerdictOK, 20*time.Second, false, true, 2),
		mk(10, VerdictSlow, 900*time.Second, false, true, 3),
		mk(0, VerdictNever, 0, true, true, 4),
		mk(20, VerdictNever, 0, true, true, 5),
		mk(30, VerdictUnknown, 0, false, false, 6),
		mk(10, VerdictStuck, 2*time.Hour, false, true, 7),
	}
	orderSockets(socks)
	var got []uint16
	for _, s := range socks {
		got = append(got, s.Local.Port())
	}
	// pid 20 holds the worst socket (never), then pid 10 (stuck), pid 30;
	// the unowned socket comes last whatever its verdict.
	want := []uint16{5, 2, 7, 3, 1, 6, 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	sum := summarizeSockets(socks, 30*time.Second)
	wantSum := Summary{
		Total:     7,
		ByVerdict: map[Verdict]int{VerdictOK: 2, VerdictSlow: 1, VerdictNever: 2, VerdictUnknown: 1, VerdictStuck: 1},
		Hang: []HangCount{
			{"within 30s", 2}, {"up to 5m", 0}, {"up to 1h", 1}, {"longer", 1}, {"never", 2}, {"unknown", 1},
		},
	}
	if diff := cmp.Diff(wantSum, sum); diff != "" {
		t.Errorf("summarize (-want +got):\n%s", diff)
	}
}

func TestDedupe(t *testing.T) {
	var socks []Socket
	for _, c := range []uint64{1, 2, 1, 3, 2} {
		socks = append(socks, Socket{DiagMsg: DiagMsg{Cookie: c}})
	}
	rows, _ := packed(socks)
	var got []uint64
	for _, r := range dedupe(rows) {
		got = append(got, r.cookie)
	}
	if diff := cmp.Diff([]uint64{1, 2, 3}, got); diff != "" {
		t.Errorf("dedupe (-want +got):\n%s", diff)
	}
}
