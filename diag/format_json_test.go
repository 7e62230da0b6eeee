package diag

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

// referenceJSON is the schema through encoding/json: what appendJSON must
// write byte for byte.
func referenceJSON(t testing.TB, s Socket) []byte {
	j := jsonSocket{
		Local: s.Local.String(), Remote: s.Remote.String(), State: s.State.String(), Timer: s.Timer.String(),
		TimerExpiresS: float64(s.Expires) / 1000, Retransmits: s.Retransmits(), Probes: s.Probes(), Unacked: s.Unacked(),
		Verdict: s.Verdict, Reason: s.Reason,
	}
	if o, ok := s.Owner(); ok {
		j.PID, j.FD, j.Comm = &o.PID, &o.FD, &o.Comm
	}
	if st := s.Settings; st != nil {
		j.Keepalive = &jsonKeepalive{Enabled: st.KeepAlive, IdleS: int(st.Idle / time.Second), IntervalS: int(st.Interval / time.Second), Count: st.Count}
		ut := st.UserTimeout.Seconds()
		j.UserTimeoutS = &ut
	}
	if s.Known && !s.Never {
		w := s.Worst.Seconds()
		j.WorstCaseS = &w
	}
	if s.LostProbes >= 0 {
		lp := s.LostProbes
		j.LostProbes = &lp
	}
	if s.RiskKnown {
		j.LossSeen, j.FalseKillsHour = &s.LossSeen, &s.FalseKillsPerHour
	}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomSocket(r *rand.Rand, text string) Socket {
	addrs := []string{"127.0.0.1:80", "[::1]:443", "[2001:2::1]:6379", "198.18.2.2:5432", "[fe80::1%eth0]:22"}
	s := Socket{
		DiagMsg: DiagMsg{
			State: TCPState(r.IntN(13)), Timer: Timer(r.IntN(6)), Expires: r.Uint32(), Retrans: r.IntN(20),
			Local: netip.MustParseAddrPort(addrs[r.IntN(len(addrs))]), Remote: netip.MustParseAddrPort(addrs[r.IntN(len(addrs))]),
		},
		Verdict: Verdicts()[r.IntN(len(Verdicts()))], Reason: text,
		Known: r.IntN(2) == 0, Never: r.IntN(3) == 0, LostProbes: r.IntN(4) - 1,
		Worst:     time.Duration(r.Int64N(int64(48 * time.Hour))),
		RiskKnown: r.IntN(2) == 0, LossSeen: r.Float64() / 2, FalseKillsPerHour: r.ExpFloat64() * 1e-3,
	}
	if r.IntN(2) == 0 {
		s.Info = &TCPInfo{Retransmits: r.IntN(16), Probes: r.IntN(9), Unacked: r.Uint32()}
	}
	if r.IntN(3) > 0 {
		s.Owners = []Owner{{PID: 1 + r.IntN(1<<22-1), FD: r.IntN(1 << 16), Comm: text}}
	}
	if r.IntN(3) > 0 {
		s.Settings = &flatline.Settings{KeepAlive: r.IntN(2) == 0, Idle: time.Duration(r.IntN(7200)) * time.Second,
			Interval: time.Duration(r.IntN(75)) * time.Second, Count: r.IntN(128), UserTimeout: time.Duration(r.Int64N(1<<31)) * time.Millisecond}
	}
	return s
}

// TestSocketJSONMatchesSchema: the hand-written encoder writes what
// encoding/json makes of jsonSocket, byte for byte, for random sockets
// and awkward text (quotes, controls, HTML characters, U+2028, invalid
// UTF-8).
func TestSocketJSONMatchesSchema(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	texts := []string{"", "redis-server", `a "quoted" \\ path`, "tab\there\nnew", "<script>&", "≈ 2.04s → dead", "\u2028\u2029", "bad \xff\xfe utf8", "\x00\x1f\x7f"}
	for i := range 5000 {
		s := randomSocket(r, texts[i%len(texts)])
		got, _ := s.MarshalJSON()
		if want := referenceJSON(t, s); string(got) != string(want) {
			t.Fatalf("socket %+v:\n got %s\nwant %s", s, got, want)
		}
	}
	// A worst case of exactly 0 and one below a microsecond.
	for _, w := range []time.Duration{0, 1, 999} {
		s := Socket{Known: true, Worst: w, LostProbes: -1}
		got, _ := s.MarshalJSON()
		if want := referenceJSON(t, s); string(got) != string(want) {
			t.Errorf("worst %v: got %s, want %s", w, got, want)
		}
	}
}

func FuzzSocketJSON(f *testing.F) {
	f.Add("redis-server", "idle: keepalive")
	f.Add("\xff", "\u2028<>&\"\\")
	f.Fuzz(func(t *testing.T, comm, reason string) {
		s := Socket{Owners: []Owner{{PID: 1, FD: 2, Comm: comm}}, Reason: reason, LostProbes: -1}
		got, _ := s.MarshalJSON()
		if want := referenceJSON(t, s); string(got) != string(want) {
			t.Fatalf("got %s, want %s", got, want)
		}
		if !json.Valid(got) {
			t.Fatalf("invalid JSON %s", got)
		}
	})
}
