package diag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestIntegrationScanPID inspects a helper process in its own namespace
// holding sockets with known options and states, checks options, worst
// case and verdict against what it set, and checks timer kind,
// retransmits and unacked against ss.
func TestIntegrationScanPID(t *testing.T) {
	h := startHelper(t, "ka-idle", "no-ka", "ut", "stuck", "stuck-ut", "zero-win", "syn-sent")
	o := Options{PID: h.pid()}
	r := waitFor(t, o, 10*time.Second, func(r *Report) bool {
		st, su, zw := find(r, h.socks["stuck"]), find(r, h.socks["stuck-ut"]), find(r, h.socks["zero-win"])
		return st != nil && su != nil && zw != nil &&
			st.Retransmits() >= stuckAfter && su.Retransmits() >= stuckAfter && zw.Timer == TimerPersist
	})
	if r.Namespace == "current" || r.HostErr != nil {
		t.Errorf("namespace %q, host error %v: want the helper's namespace, readable", r.Namespace, r.HostErr)
	}
	ka := func(idle, intvl time.Duration, count int, ut time.Duration) *flatline.Settings {
		return &flatline.Settings{KeepAlive: true, Idle: idle, Interval: intvl, Count: count, UserTimeout: ut}
	}
	type check struct {
		set      *flatline.Settings // SynCount is not compared
		timer    Timer
		traffic  flatline.State
		verdict  Verdict
		minWorst time.Duration
		maxWorst time.Duration // 0: Never
	}
	checks := map[string]check{
		"ka-idle":  {ka(2*time.Second, time.Second, 2, 0), TimerKeepalive, flatline.StateIdle, VerdictOK, 2 * time.Second, 4 * time.Second},
		"no-ka":    {&flatline.Settings{Idle: r.Host.KeepaliveTime, Interval: r.Host.KeepaliveIntvl, Count: r.Host.KeepaliveProbes}, TimerOff, flatline.StateIdle, VerdictNever, 0, 0},
		"ut":       {ka(5*time.Second, time.Second, 3, 8*time.Second), TimerKeepalive, flatline.StateIdle, VerdictOK, 3 * time.Second, 8 * time.Second},
		"stuck":    {ka(2*time.Second, time.Second, 2, 0), TimerOn, flatline.StateSending, VerdictStuck, 800 * time.Second, 1000 * time.Second},
		"stuck-ut": {ka(5*time.Second, time.Second, 3, 20*time.Second), TimerOn, flatline.StateSending, VerdictStuck, 10 * time.Second, 20*time.Second + 200*time.Millisecond},
		"zero-win": {ka(2*time.Second, time.Second, 2, 0), TimerPersist, flatline.StateClosedWindow, VerdictNever, 0, 0},
		// 3 SYN retries: the kernel model's schedule (19 s with 4 linear
		// timeouts), plus its slack.
		"syn-sent": {&flatline.Settings{Idle: r.Host.KeepaliveTime, Interval: r.Host.KeepaliveIntvl, Count: r.Host.KeepaliveProbes}, TimerOn, flatline.StateConnecting, VerdictOK, 5 * time.Second,
			kernel.SynGiveUp(3, r.Host.SynLinearTimeouts) + kernel.SlackOf(r.Host.HZ, kernel.SynTimeouts(3, r.Host.SynLinearTimeouts))},
	}
	for name, c := range checks {
		s := find(r, h.socks[name])
		if s == nil {
			t.Errorf("%s: socket %v not in the report", name, h.socks[name])
			continue
		}
		if diff := cmp.Diff([]Owner{{PID: h.pid(), FD: h.socks[name].FD, Comm: commOf(t, h.pid())}}, s.Owners); diff != "" {
			t.Errorf("%s: owners (-want +got):\n%s", name, diff)
		}
		if s.Settings == nil {
			t.Errorf("%s: options unread: %v", name, s.OptionsErr)
			continue
		}
		got := *s.Settings
		if name == "syn-sent" && got.SynCount != 3 {
			t.Errorf("%s: TCP_SYNCNT %d, want 3", name, got.SynCount)
		}
		got.SynCount = 0
		if diff := cmp.Diff(*c.set, got); diff != "" {
			t.Errorf("%s: settings (-want +got):\n%s", name, diff)
		}
		if s.Timer != c.timer || s.Traffic != c.traffic || s.Verdict != c.verdict {
			t.Errorf("%s: timer %v, traffic %v, verdict %v; want %v, %v, %v (reason: %s)", name, s.Timer, s.Traffic, s.Verdict, c.timer, c.traffic, c.verdict, s.Reason)
		}
		switch {
		case !s.Known:
			t.Errorf("%s: worst case unknown: %s", name, s.Reason)
		case c.maxWorst == 0 && !s.Never:
			t.Errorf("%s: worst %v, want never (%s)", name, s.Worst, s.Reason)
		case c.maxWorst != 0 && (s.Never || s.Worst < c.minWorst || s.Worst > c.maxWorst+s.Bound.Slack):
			t.Errorf("%s: worst %v (never %v), want within [%v, %v + slack %v] (%s)", name, s.Worst, s.Never, c.minWorst, c.maxWorst, s.Bound.Slack, s.Reason)
		}
		if s.Reason == "" {
			t.Errorf("%s: empty reason", name)
		}
	}
	checkJSON(t, r, h.socks["ut"])
	compareWithSS(t, h, o)
}

func commOf(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// checkJSON checks the stable field names and values of one socket.
func checkJSON(t *testing.T, r *Report, hs helperSocket) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Sockets []map[string]any `json:"sockets"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc.Sockets {
		if s["local"] != hs.Local || s["remote"] != hs.Remote {
			continue
		}
		want := map[string]any{
			"local": hs.Local, "remote": hs.Remote, "state": "ESTAB",
			"fd": float64(hs.FD), "timer": "keepalive", "retransmits": float64(0), "probes": float64(0), "unacked": float64(0),
			"keepalive":      map[string]any{"enabled": true, "idle_s": float64(5), "interval_s": float64(1), "count": float64(3)},
			"user_timeout_s": float64(8), "verdict": "ok", "lost_probes": float64(2),
			"loss_seen": nil, "false_kills_per_hour": nil, // a few segments sent: no estimate
		}
		for _, k := range []string{"pid", "comm", "timer_expires_s", "worst_case_s", "reason"} {
			if s[k] == nil {
				t.Errorf("json %s is null or missing", k)
			}
			delete(s, k)
		}
		if diff := cmp.Diff(want, s); diff != "" {
			t.Errorf("json socket (-want +got):\n%s", diff)
		}
		return
	}
	t.Errorf("socket %v not in the JSON", hs)
}

// ssSocket is what ss -tnoi says of one socket. count is the timer's
// third field, idiag_retrans: retransmission timeouts for timer on, probes
// out for keepalive and persist. (ss's "retrans:A/B" is tcpi_retrans,
// retransmitted segments in flight, not tcpi_retransmits.)
type ssSocket struct {
	timer   string
	count   int
	unacked int
}

var (
	ssTimer   = regexp.MustCompile(`timer:\((\w+),[^,]*,(\d+)\)`)
	ssUnacked = regexp.MustCompile(`\bunacked:(\d+)`)
)

// parseSS reads ss -tnoi output: a line per socket (state, queues,
// local, peer, timer) followed by an indented tcp_info line.
func parseSS(out string) map[string]ssSocket {
	socks := map[string]ssSocket{}
	var key string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "State" {
			continue
		}
		if !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " ") && len(f) >= 5 {
			key = f[3] + " " + f[4]
			s := ssSocket{timer: "off"}
			if m := ssTimer.FindStringSubmatch(line); m != nil {
				s.timer = m[1]
				s.count, _ = strconv.Atoi(m[2])
			}
			socks[key] = s
			continue
		}
		if key == "" {
			continue
		}
		s := socks[key]
		if m := ssUnacked.FindStringSubmatch(line); m != nil {
			s.unacked, _ = strconv.Atoi(m[1])
		}
		socks[key] = s
	}
	return socks
}

// compareWithSS runs ss -tnoi in the helper's namespace between two scans:
// timer kind, retransmits and unacked of every helper client must agree
// (retransmits of a stuck socket may grow between the scans).
func compareWithSS(t *testing.T, h *helper, o Options) {
	t.Helper()
	ss, err := exec.LookPath("ss")
	if err != nil {
		t.Log("ss not installed (iproute2): skipping the comparison with ss")
		return
	}
	before, err := Scan(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	err = kernel.InNetNS(fmt.Sprintf("/proc/%d/ns/net", h.pid()), func() error {
		var err error
		out, err = exec.Command(ss, "-tnoi").Output()
		return err
	})
	if err != nil {
		t.Fatalf("ss -tnoi: %v", err)
	}
	after, err := Scan(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	got := parseSS(string(out))
	for name, hs := range h.socks {
		s, ok := got[hs.Local+" "+hs.Remote]
		a, b := find(before, hs), find(after, hs)
		if !ok || a == nil || b == nil {
			t.Errorf("%s: in ss %v, in scans %v %v", name, ok, a != nil, b != nil)
			continue
		}
		if s.timer != a.Timer.String() || s.timer != b.Timer.String() {
			t.Errorf("%s: ss timer %s, scans %v and %v", name, s.timer, a.Timer, b.Timer)
		}
		ca, cb, what := a.Retransmits(), b.Retransmits(), "retransmits"
		if a.Timer != TimerOn {
			ca, cb, what = a.Probes(), b.Probes(), "probes"
		}
		// A zero-window probe is answered at once on loopback and its
		// count drops back to zero: not comparable between two readings.
		if a.Timer != TimerPersist && (s.count < ca || s.count > cb) {
			t.Errorf("%s: ss timer count %d, scans' %s %d and %d", name, s.count, what, ca, cb)
		}
		if uint32(s.unacked) != a.Unacked() || uint32(s.unacked) != b.Unacked() {
			t.Errorf("%s: ss unacked %d, scans %d and %d", name, s.unacked, a.Unacked(), b.Unacked())
		}
	}
}

// TestIntegrationWatch watches an idle keepalive socket behind a
// blackhole and makes it send: the timer goes keepalive → on.
func TestIntegrationWatch(t *testing.T) {
	h := startHelper(t, "flip")
	hs := h.socks["flip"]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wrote atomic.Bool
	var seen []Transition
	err := Watch(ctx, Options{PID: h.pid()}, WatchOptions{Interval: 20 * time.Millisecond}, func(tr Transition) error {
		if tr.Local.String() != hs.Local {
			return nil
		}
		seen = append(seen, tr)
		if tr.Appeared && !wrote.Swap(true) {
			h.write(t, "flip")
		}
		if tr.From == TimerKeepalive && tr.To == TimerOn {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) < 2 || !seen[0].Appeared || seen[0].To != TimerKeepalive || seen[len(seen)-1].To != TimerOn || seen[len(seen)-1].Unacked == 0 {
		t.Errorf("transitions %v: want appeared with keepalive, then keepalive → on with data unacked", seen)
	}
}

// TestIntegrationScanNetNS inspects a named namespace holding sockets of
// the test process itself.
func TestIntegrationScanNetNS(t *testing.T) {
	requireRoot(t)
	name, path := testutil.NetNS(t, "diag")
	var ln net.Listener
	var c net.Conn
	err := kernel.InNetNS(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		ln, err = net.Listen("tcp6", "[::1]:0")
		if err != nil {
			return err
		}
		d := net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 3 * time.Second, Interval: time.Second, Count: 4}}
		c, err = d.Dial("tcp6", ln.Addr().String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	sized := -1
	r, err := Scan(context.Background(), Options{NetNS: name, Max: 10 * time.Second, Sized: func(n int) { sized = n }})
	if err != nil {
		t.Fatal(err)
	}
	// The namespace's own sockstat: the listener and both ends.
	if sized != 3 {
		t.Errorf("Sized told %d sockets, want 3 (the listener, the client, the accepted end)", sized)
	}
	got := find(r, helperSocket{Local: c.LocalAddr().String(), Remote: c.RemoteAddr().String()})
	if got == nil {
		t.Fatalf("client %v not found in %s: %+v", c.LocalAddr(), name, r.Sockets)
	}
	want := flatline.Settings{KeepAlive: true, Idle: 3 * time.Second, Interval: time.Second, Count: 4}
	if got.Settings == nil {
		t.Fatalf("options unread: %v", got.OptionsErr)
	}
	set := *got.Settings
	set.SynCount = 0
	if diff := cmp.Diff(want, set); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	if o, _ := got.Owner(); o.PID != os.Getpid() || got.Verdict != VerdictOK {
		t.Errorf("owner %v, verdict %v (%s): want this process, ok", o, got.Verdict, got.Reason)
	}
	here, err := Scan(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if find(here, helperSocket{Local: c.LocalAddr().String(), Remote: c.RemoteAddr().String()}) != nil {
		t.Errorf("socket of namespace %s also found in the current namespace", name)
	}
	if _, err := Scan(context.Background(), Options{NetNS: name + "-missing"}); err == nil {
		t.Error("scan of a missing namespace succeeded")
	}
}

// TestIntegrationGone: sockets that close and processes that exit between
// the dump and the option read are reported as gone, not misread.
func TestIntegrationGone(t *testing.T) {
	requireRoot(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fds[0], &st); err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[1])
	r := newOptionReader()
	defer r.Close()
	r.open(os.Getpid())
	// fds[0] still open but another inode: the fd was reused.
	if _, err := r.read(os.Getpid(), fds[0], st.Ino+1); !errors.Is(err, ErrGone) {
		t.Errorf("reused fd: err = %v, want ErrGone", err)
	}
	unix.Close(fds[0])
	if _, err := r.read(os.Getpid(), fds[0], st.Ino); !errors.Is(err, ErrGone) {
		t.Errorf("closed fd: err = %v, want ErrGone", err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	r.open(cmd.Process.Pid)
	if _, err := r.read(cmd.Process.Pid, 3, 1); !errors.Is(err, ErrGone) {
		t.Errorf("exited process: err = %v, want ErrGone", err)
	}
	if _, err := Scan(context.Background(), Options{PID: cmd.Process.Pid}); !errors.Is(err, ErrNoProcess) {
		t.Errorf("scan of an exited process: err = %v, want ErrNoProcess", err)
	}
}

func TestGetfdError(t *testing.T) {
	tests := []struct {
		err      error
		needs    string
		gone     bool
		notSupp  bool
		wantErrn error
	}{
		{unix.EPERM, "CAP_SYS_PTRACE", false, false, unix.EPERM},
		{unix.ENOSYS, "Linux 5.6", false, true, nil},
		{unix.EBADF, "", true, false, unix.EBADF},
		{unix.ESRCH, "", true, false, unix.ESRCH},
		{unix.EMFILE, "", false, false, unix.EMFILE},
	}
	for _, tt := range tests {
		e := getfdError(10, 4, tt.err)
		if e.Needs != tt.needs || errors.Is(e, ErrGone) != tt.gone || errors.Is(e, flatline.ErrNotSupported) != tt.notSupp {
			t.Errorf("%v: %v: needs %q gone %v not-supported %v; want %q %v %v", tt.err, e, e.Needs, errors.Is(e, ErrGone), errors.Is(e, flatline.ErrNotSupported), tt.needs, tt.gone, tt.notSupp)
		}
		if tt.wantErrn != nil && !errors.Is(e, tt.wantErrn) {
			t.Errorf("%v: %v does not unwrap to the errno", tt.err, e)
		}
	}
}

// TestIntegrationUnprivileged scans the helper's namespace as nobody: the
// scan completes, says what it could not read, and still concludes what
// inet_diag alone shows (an idle socket with no timer has keepalive off).
func TestIntegrationUnprivileged(t *testing.T) {
	h := startHelper(t, "ka-idle", "no-ka")
	dir, err := os.MkdirTemp("", "flt-diag-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "diag.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), scanEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out []byte
	// Started from a thread in the helper's namespace, the scanner lives
	// there without needing the right to enter it.
	err = kernel.InNetNS(fmt.Sprintf("/proc/%d/ns/net", h.pid()), func() error {
		var err error
		out, err = cmd.Output()
		return err
	})
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("scan as nobody: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var doc struct {
		Notes   []string
		Sockets []struct {
			Local, Remote, Verdict, Reason string
			PID                            *int
			Keepalive                      any
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(doc.Notes) == 0 {
		t.Error("no note about what could not be read")
	}
	want := map[string]string{"ka-idle": "unknown", "no-ka": "never"}
	for name, verdict := range want {
		found := false
		for _, s := range doc.Sockets {
			if s.Local != h.socks[name].Local || s.Remote != h.socks[name].Remote {
				continue
			}
			found = true
			if s.Verdict != verdict || s.PID != nil || s.Keepalive != nil || s.Reason == "" {
				t.Errorf("%s as nobody: verdict %s pid %v keepalive %v reason %q; want %s, no owner, no options, a reason", name, s.Verdict, s.PID, s.Keepalive, s.Reason, verdict)
			}
		}
		if !found {
			t.Errorf("%s not in the unprivileged scan", name)
		}
	}
}

// TestIntegrationWorstCaseHolds blackholes a connection, takes the
// inspector's worst case right then, and has the helper report when the
// kernel really gives up (its read fails): an idle keepalive socket
// (2s/1s/2) and a sending one with TCP_USER_TIMEOUT 3s. The death must come
// no later than the worst case plus the library's timer slack and 250 ms
// for the helper to be scheduled on a busy machine, and not more than 1 s
// before it (the prediction is not padding).
func TestIntegrationWorstCaseHolds(t *testing.T) {
	names := []string{"die-idle", "die-send"}
	h := startHelper(t, names...)
	o := Options{PID: h.pid()}
	type pending struct {
		at    time.Time
		worst time.Duration
		slack time.Duration
		why   string
	}
	ps := map[string]pending{}
	for _, name := range names {
		h.drop(t, name)
		at := time.Now()
		r, err := Scan(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		s := find(r, h.socks[name])
		if s == nil || !s.Known || s.Never {
			t.Fatalf("%s: no worst case right after the drop: %+v", name, s)
		}
		ps[name] = pending{at, s.Worst, s.Bound.Slack, s.Reason}
	}
	died := make(chan string, len(names))
	go func() {
		for h.lines.Scan() {
			if rest, ok := strings.CutPrefix(h.lines.Text(), "DIED "); ok {
				died <- rest
			}
		}
		close(died)
	}()
	timeout := time.After(15 * time.Second)
	for range names {
		var line string
		select {
		case l, ok := <-died:
			if !ok {
				t.Fatal("helper ended before reporting the deaths")
			}
			line = l
		case <-timeout:
			t.Fatalf("connections still alive 15 s after the drop: %+v", ps)
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("bad DIED line %q", line)
		}
		nanos, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("bad DIED line %q", line)
		}
		p, ok := ps[f[0]]
		if !ok {
			t.Fatalf("DIED line for unknown %q", f[0])
		}
		took := time.Unix(0, nanos).Sub(p.at)
		t.Logf("%s: predicted %v (+%v slack), died after %v: %s", f[0], p.worst, p.slack, took, strings.Join(f[2:], " "))
		if took > p.worst+p.slack+250*time.Millisecond || took < p.worst-time.Second {
			t.Errorf("%s: died after %v, predicted %v (+%v slack): %s", f[0], took, p.worst, p.slack, p.why)
		}
	}
}
