package enforce_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/cgroup2"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/flatline-dev/flatline/internal/topology"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// planLine is how a client prints the options of plan p (jitter 0).
func planLine(p flatline.Plan) string {
	s := p.Settings
	return fmt.Sprintf("ka=1 idle=%d intvl=%d cnt=%d ut=%d", int(s.Idle/time.Second), int(s.Interval/time.Second),
		s.Count, int(s.UserTimeout/time.Millisecond))
}

// listenLoopback accepts and drains connections on 127.0.0.1 until the test ends.
func listenLoopback(t *testing.T) (host, port string) {
	t.Helper()
	return listenOn(t, "127.0.0.1:0")
}

// listenOn accepts and drains connections on addr until the test ends.
func listenOn(t *testing.T, addr string) (host, port string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return acceptAll(t, ln)
}

// acceptAll accepts and drains connections on ln until the test ends,
// and returns its address.
func acceptAll(t *testing.T, ln net.Listener) (host, port string) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); c.Read(make([]byte, 1)) }()
		}
	}()
	h, p, _ := net.SplitHostPort(ln.Addr().String())
	return h, p
}

// TestIntegrationGuard: a program in the cgroup gets the plan from connect
// on, and cannot loosen it unless AllowLooser; a program outside keeps the
// kernel's defaults. After Close nothing is attached (bpftool and
// BPF_PROG_QUERY as oracles).
func TestIntegrationGuard(t *testing.T) {
	needRoot(t)
	const T = 5 * time.Second // spread 1 s: whole-second jitter 0
	plan, err := flatline.Config{Timeout: T}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	want := planLine(plan)
	host, port := listenLoopback(t)
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allowLooser=%v", allow), func(t *testing.T) {
			g := newGroup(t, "guard")
			e := attachT(t, g, enforce.Options{Config: flatline.Config{Timeout: T}, AllowLooser: allow})
			progs, err := enforce.Attached(g.Path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(progs); !strings.Contains(got, "apply sock_ops") || !strings.Contains(got, "guard setsockopt") {
				t.Fatalf("enforce.Attached = %v, want apply (sock_ops) and guard (setsockopt)", got)
			}
			for _, kind := range clientKinds {
				c := startClient(t, kind, "loosen", host, port, nil, g)
				wantConnected := "connected " + want
				if kind == "go" && allow {
					// The dialer's own 15 s/15 s/9 after connect, let through.
					wantConnected = "connected ka=1 idle=15 intvl=15 cnt=9 ut=" + fmt.Sprint(plan.Settings.UserTimeout.Milliseconds())
				}
				if got := c.next(t, 10*time.Second).text; got != wantConnected {
					t.Errorf("%s in the cgroup: %q, want %q", kind, got, wantConnected)
				}
				wantLoose := "loosened " + want
				if allow {
					wantLoose = "loosened ka=0 idle=600 intvl=60 cnt=20 ut=0"
				}
				if got := c.next(t, 10*time.Second).text; got != wantLoose {
					t.Errorf("%s in the cgroup: %q, want %q", kind, got, wantLoose)
				}
			}
			// IPv6 too, where the kernel has it.
			clients := len(clientKinds)
			if probe, err := net.Listen("tcp6", "[::1]:0"); err != nil {
				t.Logf("no IPv6 loopback (%v): IPv4 only", err)
			} else {
				probe.Close()
				clients++
				h6, p6 := listenOn(t, "[::1]:0")
				c := startClient(t, "python", "loosen", h6, p6, nil, g)
				if got := c.next(t, 10*time.Second).text; got != "connected "+want {
					t.Errorf("python over IPv6 in the cgroup: %q, want %q", got, "connected "+want)
				}
				c.next(t, 10*time.Second)
			}
			// Outside the cgroup: the kernel's defaults and whatever the
			// program sets.
			c := startClient(t, "python", "loosen", host, port, nil, nil)
			if got := c.next(t, 10*time.Second).text; !strings.HasPrefix(got, "connected ka=0 ") || !strings.HasSuffix(got, " ut=0") {
				t.Errorf("python outside the cgroup: %q, want keepalive off and no user timeout", got)
			}
			s, err := e.Stats()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("stats: %+v", s)
			if s.Connects != uint64(clients) || s.SetErrors != 0 {
				t.Errorf("stats %+v: want %d connects, no setsockopt errors", s, clients)
			}
			// 5 looser values per client, and the Go dialer's own 15 s
			// idle, 15 s interval and 9 probes.
			looser := uint64(clients*5 + 3)
			if !allow && (s.Clamped != looser || s.LooserAllowed != 0) {
				t.Errorf("stats %+v: want %d clamped values, none let through", s, looser)
			}
			if allow && (s.Clamped != 0 || s.LooserAllowed != looser) {
				t.Errorf("stats %+v: want %d looser values let through, none clamped", s, looser)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			assertNothingAttached(t, g.Path)
		})
	}
}

// assertNothingAttached checks with BPF_PROG_QUERY and, where installed,
// bpftool that no sock_ops or sockopt program is attached to the cgroup.
func assertNothingAttached(t *testing.T, path string) {
	t.Helper()
	progs, err := enforce.Attached(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(progs) != 0 {
		t.Errorf("after Close, attached to %s: %v", path, progs)
	}
	bpftool, err := exec.LookPath("bpftool")
	if err != nil {
		t.Log("no bpftool: BPF_PROG_QUERY is the only oracle")
		return
	}
	out, err := exec.Command(bpftool, "cgroup", "show", path).CombinedOutput()
	if err != nil {
		t.Fatalf("bpftool cgroup show: %v: %s", err, out)
	}
	if strings.Contains(string(out), "sock_ops") || strings.Contains(string(out), "setsockopt") {
		t.Errorf("after Close, bpftool cgroup show %s:\n%s", path, out)
	}
}

// TestIntegrationBadInput: paths that are not cgroup v2 directories are
// refused before anything is loaded.
func TestIntegrationBadInput(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	file := dir + "/f"
	os.WriteFile(file, nil, 0o600)
	for _, p := range []string{dir, file, dir + "/missing", "/proc/self"} {
		_, err := enforce.Attach(p, enforce.Options{})
		if !errors.Is(err, enforce.ErrNotCgroup2) {
			t.Errorf("enforce.Attach(%q) = %v, want enforce.ErrNotCgroup2", p, err)
		}
	}
	g := newGroup(t, "bad")
	if _, err := enforce.Attach(g.Path, enforce.Options{Config: flatline.Config{Timeout: time.Second}}); !errors.Is(err, flatline.ErrInvalidConfig) {
		t.Errorf("enforce.Attach with a 1 s timeout = %v, want ErrInvalidConfig", err)
	}
	assertNothingAttached(t, g.Path)
}

// readBacks are the two ways apply reads a socket's values: the kernel's
// struct tcp_sock (what Attach loads where the kernel has BTF and 5.10)
// and bpf_getsockopt (its twin, loaded elsewhere).
var readBacks = []struct {
	name   string
	attach func(string, enforce.Options) (*enforce.Enforcer, error)
}{
	{"btf", enforce.Attach},
	{"getsockopt", enforce.AttachGetsockopt},
}

// attachReading attaches o with attach, checks which read-back loaded
// (where the kernel has BTF, Attach must load the fast one), and detaches
// when the test ends.
func attachReading(t *testing.T, g *cgroup2.Group, o enforce.Options, name string, attach func(string, enforce.Options) (*enforce.Enforcer, error)) {
	t.Helper()
	e, err := attach(g.Path, o)
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skipf("kernel: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	_, errBTF := os.Stat("/sys/kernel/btf/vmlinux")
	if got := enforce.ReadBack(e); got != name && (name == "getsockopt" || errBTF == nil) {
		t.Errorf("apply reads with %s, want %s", got, name)
	}
}

// TestIntegrationTighten: a value the program made stricter before
// connecting is kept at connect, read from the socket either way, for
// Python and for Go (whose zero dialer would add its own after connect:
// this one sets only the stricter values).
func TestIntegrationTighten(t *testing.T) {
	needRoot(t)
	const T = 5 * time.Second
	plan, err := flatline.Config{Timeout: T}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	host, port := listenLoopback(t)
	for _, rb := range readBacks {
		for _, kind := range clientKinds {
			t.Run(rb.name+"/"+kind, func(t *testing.T) {
				g := newGroup(t, "tighten")
				attachReading(t, g, enforce.Options{Config: flatline.Config{Timeout: T}}, rb.name, rb.attach)
				want := "connected ka=1 idle=1 intvl=1 cnt=2 ut=1000"
				if rb.name == "getsockopt" && !getsockoptReads(t) {
					// Before 6.1 the kernel refuses bpf_getsockopt of these
					// options: the plan's values replace the program's.
					want = "connected " + planLine(plan)
				}
				c := startClient(t, kind, "strict", host, port, nil, g)
				if got := c.next(t, 10*time.Second).text; got != want {
					t.Errorf("strict %s in the cgroup: %q, want %q", kind, got, want)
				}
			})
		}
	}
}

// getsockoptReads is whether the running kernel lets sock_ops read these
// options with bpf_getsockopt (Linux 6.1).
func getsockoptReads(t *testing.T) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	v, ok := kernel.ParseVersion(unix.ByteSliceToString(u.Release[:]))
	return !ok || !v.Less(kernel.Version{Major: 6, Minor: 1})
}

// TestIntegrationTightenSysctl: in a network namespace whose
// tcp_keepalive_time (1 s) is stricter than the plan's idle (2 s), a
// program that sets nothing keeps the namespace's idle, as getsockopt
// reads it, and gets the plan's other values: apply reading struct
// tcp_sock falls back to the namespace's sysctl where the socket has no
// value of its own, as getsockopt does.
func TestIntegrationTightenSysctl(t *testing.T) {
	needRoot(t)
	const T = 5 * time.Second
	plan, err := flatline.Config{Timeout: T}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if plan.Settings.Idle <= time.Second {
		t.Fatalf("plan of %v: idle %v, want more than the namespace's 1 s", T, plan.Settings.Idle)
	}
	nsName, ns := testutil.NetNS(t, "sysctl")
	var ln net.Listener
	err = kernel.InNetNS(ns, func() error {
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err == nil {
			err = os.WriteFile("/proc/sys/net/ipv4/tcp_keepalive_time", []byte("1"), 0)
		}
		if err == nil {
			ln, err = net.Listen("tcp4", "127.0.0.1:0")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	host, port := acceptAll(t, ln)
	want := "connected " + strings.Replace(planLine(plan), fmt.Sprintf("idle=%d ", int(plan.Settings.Idle/time.Second)), "idle=1 ", 1)
	mode := map[string]string{"python": "idle", "go": "quiet"} // neither sets an option
	for _, rb := range readBacks {
		for _, kind := range clientKinds {
			t.Run(rb.name+"/"+kind, func(t *testing.T) {
				g := newGroup(t, "sysctl")
				attachReading(t, g, enforce.Options{Config: flatline.Config{Timeout: T}}, rb.name, rb.attach)
				// Only cmd.Start runs in the namespace: startClient's t.Skip
				// and t.Fatal must stay on the test's goroutine.
				c := startClient(t, kind, mode[kind], host, port, &topology.Namespace{Name: nsName, Path: ns}, g)
				want := want
				if rb.name == "getsockopt" && !getsockoptReads(t) {
					want = "connected " + planLine(plan) // the namespace's value unread: the plan's set
				}
				if got := c.next(t, 10*time.Second).text; got != want {
					t.Errorf("%s in the cgroup, namespace keepalive time 1 s: %q, want %q", kind, got, want)
				}
			})
		}
	}
}

// TestIntegrationSpread: at T = 30 s connections made together get
// different jitters, each the same on TCP_KEEPIDLE and TCP_USER_TIMEOUT,
// one of the plan's offsets, and for the connections whose ports are known
// the one kernel.Jitter computes in Go (enforce.c is the same arithmetic);
// Go's dialer, rewritten by guard after connect, keeps its connection's
// jitter.
func TestIntegrationSpread(t *testing.T) {
	needRoot(t)
	const T = 30 * time.Second
	plan, err := flatline.Config{Timeout: T}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if plan.JitterOffsets < 2 {
		t.Fatalf("plan of %v has no jitter: %+v", T, plan)
	}
	step := int(plan.JitterStep / time.Second)
	idle, ut := int(plan.Settings.Idle/time.Second), int(plan.Settings.UserTimeout/time.Millisecond)
	host, port := listenLoopback(t)
	g := newGroup(t, "spread")
	attachT(t, g, enforce.Options{Config: flatline.Config{Timeout: T}})

	const n = 40
	jitters := map[int]int{}
	check := func(name, l string) {
		t.Helper()
		var ka, i, v, c, u int
		if _, err := fmt.Sscanf(l, "connected ka=%d idle=%d intvl=%d cnt=%d ut=%d", &ka, &i, &v, &c, &u); err != nil {
			t.Fatalf("%s: %q: %v", name, l, err)
		}
		j := i - idle
		if ka != 1 || j < 0 || j%step != 0 || j/step >= plan.JitterOffsets || u != ut+1000*j {
			t.Errorf("%s: %q: want idle %d+j, user timeout %d+1000j ms, j one of %d offsets %d s apart", name, l, idle, ut, plan.JitterOffsets, step)
		}
		var lport, rport uint16
		if _, after, ok := strings.Cut(l, " ports="); ok {
			if _, err := fmt.Sscanf(after, "%d,%d", &lport, &rport); err != nil {
				t.Fatalf("%s: %q: %v", name, l, err)
			}
			if want := kernel.Jitter(plan.JitterOffsets, plan.JitterStep, lport, rport); time.Duration(j)*time.Second != want {
				t.Errorf("%s: ports %d, %d: enforce.c's jitter %d s, kernel.Jitter %v", name, lport, rport, j, want)
			}
		}
		jitters[j]++
	}
	py := startClient(t, "python", "many"+fmt.Sprint(n), host, port, nil, g)
	for range n {
		check("python", py.next(t, 10*time.Second).text)
	}
	for range 5 {
		check("go", startClient(t, "go", "idle", host, port, nil, g).next(t, 10*time.Second).text)
	}
	t.Logf("jitter (s): connections %v", jitters)
	if len(jitters) < plan.JitterOffsets/2 {
		t.Errorf("%d connections made together share %d jitter values, want at least %d of %d", n+5, len(jitters), plan.JitterOffsets/2, plan.JitterOffsets)
	}
}
