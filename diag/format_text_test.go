package diag

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/flatline-dev/flatline"
)

// referenceTable is the table as text/tabwriter and fmt wrote it before
// WriteText aligned the columns itself: what WriteText must write byte for
// byte (process names without control characters).
func referenceTable(r *Report) string {
	var b bytes.Buffer
	h := r.Host
	fmt.Fprintf(&b, "namespace %s: tcp_retries2=%d keepalive %v/%v/%d tcp_syn_retries=%d", r.Namespace,
		h.Retries2, h.KeepaliveTime, h.KeepaliveIntvl, h.KeepaliveProbes, h.SynRetries)
	if h.HZ > 0 {
		fmt.Fprintf(&b, " HZ=%d", h.HZ)
	}
	fmt.Fprintf(&b, "; verdicts against %v\n\n", r.Max)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERDICT\tWORST\tPROCESS\tSTATE\tLOCAL\tREMOTE\tTIMER\tRETR\tPROBES\tUNACKED\tKEEPALIVE\tUSER_TIMEOUT\tLOST_OK\tREASON")
	for i := range r.Sockets {
		s := &r.Sockets[i]
		proc := "-"
		if o, ok := s.Owner(); ok {
			proc = fmt.Sprintf("%d/%s:%d", o.PID, o.Comm, o.FD)
		}
		ka, ut := "?", "?"
		if st := s.Settings; st != nil {
			ka = "off"
			if st.KeepAlive {
				ka = fmt.Sprintf("%v/%v/%d", st.Idle, st.Interval, st.Count)
			}
			ut = "none"
			if st.UserTimeout > 0 {
				ut = st.UserTimeout.String()
			}
		}
		timer := s.Timer.String()
		if s.Timer != TimerOff {
			timer += "," + (time.Duration(s.Expires) * time.Millisecond).String()
		}
		lost := "-"
		if s.LostProbes >= 0 {
			lost = fmt.Sprint(s.LostProbes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n",
			s.Verdict, s.worstString(), proc, s.State, s.Local, s.Remote, timer,
			s.Retransmits(), s.Probes(), s.Unacked(), ka, ut, lost, s.Reason)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\n%d sockets:", r.Summary.Total)
	var tail strings.Builder
	for _, v := range Verdicts() {
		if n := r.Summary.ByVerdict[v]; n > 0 {
			fmt.Fprintf(&tail, " %d %s,", n, v)
		}
	}
	tail.WriteString(" would hang")
	for _, hc := range r.Summary.Hang {
		if hc.Count > 0 {
			fmt.Fprintf(&tail, " %s: %d,", hc.Label, hc.Count)
		}
	}
	b.WriteString(strings.TrimSuffix(tail.String(), ",") + "\n")
	for _, n := range r.Notes {
		b.WriteString("note: " + n + "\n")
	}
	return b.String()
}

// TestWriteTextMatchesTabwriter: WriteText's own alignment gives what
// tabwriter gave, for random sockets with wide and multi-byte cells.
func TestWriteTextMatchesTabwriter(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	texts := []string{"", "redis-server", "≈ 2.04s → dead", "postgres: walsender", "日本語"}
	for _, n := range []int{0, 1, 7, 300} {
		rep := &Report{Namespace: "blue", Max: 30 * time.Second, Host: flatline.LinuxDefaults(), Notes: []string{"a note"}}
		for i := range n {
			rep.Sockets = append(rep.Sockets, randomSocket(r, texts[i%len(texts)]))
		}
		rep.Summary = summarizeSockets(rep.Sockets, rep.Max)
		var got bytes.Buffer
		if err := rep.WriteText(&got); err != nil {
			t.Fatal(err)
		}
		if want := referenceTable(rep); got.String() != want {
			t.Fatalf("%d sockets:\n got %q\nwant %q", n, got.String(), want)
		}
	}
}

// TestWriteTextControlCharacters: a tab or newline in a process's name
// does not split the table's lines or cells.
func TestWriteTextControlCharacters(t *testing.T) {
	s := Socket{Owners: []Owner{{PID: 7, FD: 3, Comm: "evil\tname\nx"}}, LostProbes: -1, Verdict: VerdictOK}
	rep := &Report{Sockets: []Socket{s}, Max: time.Second}
	rep.Summary = summarizeSockets(rep.Sockets, rep.Max)
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "7/evil?name?x:3") {
		t.Errorf("table %q: want the name with ? for its control characters", b.String())
	}
}

// TestWriteJSONIsMarshalJSON: the streamed report is the marshalled one.
func TestWriteJSONIsMarshalJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	rep := &Report{Namespace: "blue", Max: 30 * time.Second, Host: flatline.LinuxDefaults()}
	for range 2000 {
		rep.Sockets = append(rep.Sockets, randomSocket(r, "x"))
	}
	rep.Summary = summarizeSockets(rep.Sockets, rep.Max)
	m, err := rep.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	if err := rep.WriteJSON(&w); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m, w.Bytes()) {
		t.Fatal("WriteJSON and MarshalJSON differ")
	}
}

// TestOrder: worst first, grouped by process in the order of each
// process's worst socket, unowned last; the same sockets, each once.
func TestOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	socks := make([]Socket, 500)
	for i := range socks {
		socks[i] = randomSocket(r, "x")
		socks[i].Cookie = uint64(i)
		if len(socks[i].Owners) > 0 {
			socks[i].Owners = []Owner{{PID: 1 + r.IntN(6), FD: i}} // no process has pid 0
		}
	}
	orderSockets(socks)
	seen := map[uint64]bool{}
	groupDone := map[int]bool{}
	lastPID, unowned := -1, false
	for i := range socks {
		s := &socks[i]
		if seen[s.Cookie] {
			t.Fatalf("socket %d twice", s.Cookie)
		}
		seen[s.Cookie] = true
		o, ok := s.Owner()
		switch {
		case !ok:
			unowned = true
		case unowned:
			t.Fatalf("owned socket %d after an unowned one", i)
		case o.PID != lastPID:
			if groupDone[o.PID] {
				t.Fatalf("process %d's sockets split", o.PID)
			}
			if lastPID >= 0 {
				groupDone[lastPID] = true
			}
			if i > 0 && ok && lastPID >= 0 && worse(s, &socks[firstOf(socks, lastPID)]) < 0 {
				t.Fatalf("group of %d before a worse group", lastPID)
			}
			lastPID = o.PID
			continue
		}
		if i > 0 && sameGroup(&socks[i-1], s) && worse(&socks[i-1], s) > 0 {
			t.Fatalf("sockets %d, %d not worst first", i-1, i)
		}
	}
	if len(seen) != len(socks) {
		t.Fatalf("%d sockets after ordering, want %d", len(seen), len(socks))
	}
}

func firstOf(socks []Socket, pid int) int {
	for i := range socks {
		if o, ok := socks[i].Owner(); ok && o.PID == pid {
			return i
		}
	}
	return -1
}

func sameGroup(a, b *Socket) bool {
	oa, ka := a.Owner()
	ob, kb := b.Owner()
	return ka == kb && (!ka || oa.PID == ob.PID)
}

// worse is the order order sorts in, for two Sockets: worst first: by verdict, then by how long they
// would hang (never first), then by address for a stable order.
func worse(a, b *Socket) int {
	if c := cmp.Compare(a.Verdict.rank(), b.Verdict.rank()); c != 0 {
		return c
	}
	if a.Never != b.Never {
		if a.Never {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(b.Worst, a.Worst); c != 0 {
		return c
	}
	if c := a.Local.Compare(b.Local); c != 0 {
		return c
	}
	return a.Remote.Compare(b.Remote)
}
