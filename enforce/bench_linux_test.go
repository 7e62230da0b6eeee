package enforce_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/cgroup2"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
	"golang.org/x/sys/unix"
)

// BenchmarkConnectAccept measures connect + accept + close on loopback, in
// a cgroup the benchmark makes and moves itself into, for two programs:
// one that sets no keepalive option (keepalive -1 on both ends, like
// Python or C programs: only the sock_ops program works) and Go's defaults
// (15 s/15 s/9 after connect and accept: guard also rewrites three values
// per end). Each runs
//
//   - plain: no program attached;
//   - attached (the program that sets nothing only): enforce's programs
//     attached with an empty plan, so that they run on every callback and
//     setsockopt as usual and return at once: what the kernel's running
//     them at all costs, which no change to the programs can lower;
//   - app-set (the program that sets nothing only): the application sets
//     the plan's options itself, the very setsockopt calls enforce's
//     program makes (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT,
//     SO_KEEPALIVE, TCP_USER_TIMEOUT), before connecting and after
//     accepting, as enforce does: the options' own work (the kernel
//     storing values and arming timers) and the system calls that ask
//     for it;
//   - enforced: enforce attached to the cgroup (both ends configured);
//   - getsockopt: the same, with apply_getsockopt as apply (the program
//     kernels without BTF or before 5.10 get, and every kernel before this
//     change): it reads the socket's values with five bpf_getsockopt
//     calls an end instead of from struct tcp_sock.
//
// Run it as
//
//	go test -run '^$' -bench ConnectAccept -benchtime 1x ./enforce/
//
// The cases alternate (testutil.Interleave) for many rounds; the tables
// give medians of the CPU time (steadier on a shared machine: the whole
// process's, the kernel's work for both ends included) and wall time per
// connection, and the medians of the per-round ratios with their 95 %
// intervals. Every round starts with a collection, so that the garbage of
// loading the programs (CO-RE relocation against the kernel's BTF) is not
// collected in it. It ends with one more enforced batch per program with
// the kernel's accounting of BPF run time on (BPF_ENABLE_STATS, which costs
// time of its own, about a clock read per run, so not during the
// comparison): how often each program ran per connection and for how long,
// the work of its helpers (the options bpf_setsockopt sets) included.
func BenchmarkConnectAccept(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to create a cgroup and load eBPF programs")
	}
	m, err := cgroup2.Mount()
	if err != nil {
		b.Skip(err)
	}
	own, err := ownCgroup(m)
	if err != nil {
		b.Skip(err)
	}
	g, err := cgroup2.New("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer g.Remove()
	if err := moveSelf(g.Path); err != nil {
		b.Fatal(err)
	}
	defer moveSelf(own)
	cfg := flatline.Config{Timeout: 5 * time.Second}
	plan, err := cfg.Plan()
	if err != nil {
		b.Fatal(err)
	}
	if plan.JitterOffsets > 1 {
		b.Fatalf("the plan of %v has jitter: app-set would not set what enforce sets", cfg.Timeout)
	}
	attachWith := func(attach func(string, enforce.Options) (*enforce.Enforcer, error)) *enforce.Enforcer {
		e, err := attach(g.Path, enforce.Options{Config: cfg})
		if err != nil {
			b.Skip(err)
		}
		return e
	}
	attach := func() *enforce.Enforcer { return attachWith(enforce.Attach) }
	if e := attach(); e != nil {
		fmt.Printf("apply reads a socket's values with %s\n", enforce.ReadBack(e))
		e.Close()
	}
	cases := []string{"no-options/plain", "no-options/attached", "no-options/app-set", "no-options/enforced",
		"no-options/getsockopt", "go-default/plain", "go-default/enforced", "go-default/getsockopt"}
	costs := testutil.Interleave(benchRounds, cases, func(name string) testutil.Cost {
		program, mode, _ := strings.Cut(name, "/")
		switch mode {
		case "enforced":
			defer attach().Close()
		case "getsockopt":
			defer attachWith(enforce.AttachGetsockopt).Close()
		case "attached":
			e := attach()
			defer e.Close()
			if err := enforce.ClearPlan(e); err != nil {
				b.Fatal(err)
			}
		}
		// Loading the programs (CO-RE relocation against the kernel's
		// BTF) leaves garbage whose collection would land in this round.
		runtime.GC()
		return connectAccept(b, program, mode, plan.Settings, benchBatch)
	})
	fmt.Printf("\nconnect + accept + close, both ends, T = %v: %d rounds of %d connections a case, interleaved\n(medians; change: median of per-round ratios, 95 %% interval)\n", cfg.Timeout, benchRounds, benchBatch)
	for _, t := range [][]string{cases[:5], cases[5:], {cases[1], cases[3], cases[4]}, {cases[2], cases[3]}} {
		fmt.Println()
		testutil.Comparison(os.Stdout, "per connection", t, costs)
	}
	fmt.Println()
	programStats(b, map[string]func() *enforce.Enforcer{
		"enforced":   attach,
		"getsockopt": func() *enforce.Enforcer { return attachWith(enforce.AttachGetsockopt) },
	}, plan.Settings)
}

// programStats prints, per program and per way apply reads the socket's
// values, how many times enforce's programs ran per connection and for how
// long, by the kernel's BPF_ENABLE_STATS: medians of statsRounds batches
// taken in turn.
func programStats(b *testing.B, attach map[string]func() *enforce.Enforcer, plan flatline.Settings) {
	st, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		fmt.Printf("no BPF run-time statistics: %v\n", err)
		return
	}
	defer st.Close()
	const n = 2000
	type key struct{ program, how string }
	runs, apply, guard := map[key][]float64{}, map[key][]float64{}, map[key][]float64{}
	for range statsRounds {
		for _, program := range []string{"no-options", "go-default"} {
			for _, how := range []string{"enforced", "getsockopt"} {
				e := attach[how]()
				runtime.GC()
				a0, g0 := programRun("apply"), programRun("guard")
				connectAccept(b, program, "enforced", plan, n)
				a1, g1 := programRun("apply"), programRun("guard")
				e.Close()
				k := key{program, how}
				runs[k] = append(runs[k], float64(a1.RunCount-a0.RunCount+g1.RunCount-g0.RunCount)/n)
				apply[k] = append(apply[k], (a1.Runtime-a0.Runtime).Seconds()*1e6/n)
				guard[k] = append(guard[k], (g1.Runtime-g0.Runtime).Seconds()*1e6/n)
			}
		}
	}
	fmt.Printf("enforce's programs' run time a connection (BPF_ENABLE_STATS; medians of %d batches of %d connections in turn, 95 %% interval)\n", statsRounds, n)
	for _, program := range []string{"no-options", "go-default"} {
		for _, how := range []string{"enforced", "getsockopt"} {
			k := key{program, how}
			r, _, _ := testutil.MedianCI(runs[k])
			a, alo, ahi := testutil.MedianCI(apply[k])
			g, glo, ghi := testutil.MedianCI(guard[k])
			fmt.Printf("%-22s %4.1f runs  apply %.2f µs [%.2f, %.2f]  guard %.2f µs [%.2f, %.2f]\n", program+"/"+how, r, a, alo, ahi, g, glo, ghi)
		}
	}
}

// statsRounds is how many batches programStats takes of each.
const statsRounds = 9

// benchRounds is how many times the cases alternate, benchBatch how many
// connections a case makes in each.
const benchRounds, benchBatch = 101, 300

// connectAccept dials and accepts n connections on a fresh loopback
// listener, closing both ends with RST (no TIME-WAIT left behind), and
// returns their cost per connection. The program is "go-default" (Go's
// keepalive defaults on both ends) or "no-options" (no keepalive option
// set); mode "app-set" has the program set plan itself (the options
// enforce's program sets: keepalive, TCP_USER_TIMEOUT and TCP_SYNCNT, no
// TCP_RTO_MAX_MS) before connecting and after accepting.
func connectAccept(b *testing.B, program, mode string, plan flatline.Settings, n int) testutil.Cost {
	lc, d := &net.ListenConfig{}, &net.Dialer{}
	if program == "no-options" {
		lc, d = &net.ListenConfig{KeepAlive: -1}, &net.Dialer{KeepAlive: -1}
	}
	o := kernel.Options{KeepAlive: true, Idle: plan.Idle, Interval: plan.Interval, Count: plan.Count, UserTimeout: plan.UserTimeout, SynCount: plan.SynCount}
	set := func(rc syscall.RawConn) {
		var err error
		rc.Control(func(fd uintptr) { err = kernel.SetOptions(int(fd), o) })
		if err != nil {
			b.Fatal(err)
		}
	}
	if mode == "app-set" {
		d.Control = func(_, _ string, rc syscall.RawConn) error { set(rc); return nil }
	}
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	cpu, start := cpuTime(), time.Now()
	for range n {
		c, err := d.Dial("tcp4", addr)
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		if mode == "app-set" {
			rc, _ := s.(*net.TCPConn).SyscallConn()
			set(rc)
		}
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		s.Close()
	}
	return testutil.Cost{CPU: (cpuTime() - cpu) / time.Duration(n), Wall: time.Since(start) / time.Duration(n)}
}

// programRun is the run count and run time the kernel has accounted to
// the programs called name (apply: sock_ops; guard: cgroup sockopt) loaded
// now: enforce's, in this benchmark. Zero where BPF statistics are off.
func programRun(name string) ebpf.ProgramStats {
	var total ebpf.ProgramStats
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return total
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		if info, err := p.Info(); err == nil && info.Name == name && (info.Type == ebpf.SockOps || info.Type == ebpf.CGroupSockopt) {
			if st, err := p.Stats(); err == nil {
				total.Runtime += st.Runtime
				total.RunCount += st.RunCount
			}
		}
		p.Close()
	}
}

// cpuTime is the CPU time of the process so far, user and system: on
// loopback the receiving side's softirq work runs in the sender's
// context, so this counts both ends.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ownCgroup is this process's cgroup v2 directory.
func ownCgroup(mount string) (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return filepath.Join(mount, p), nil
		}
	}
	return "", os.ErrNotExist
}

// moveSelf moves the whole process into the cgroup dir.
func moveSelf(dir string) error {
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0)
}
