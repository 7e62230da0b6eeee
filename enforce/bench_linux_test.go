package enforce_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/cgroup2"
	"golang.org/x/sys/unix"
)

// BenchmarkConnectAccept measures connect + accept + close on loopback, in
// a cgroup the benchmark makes and moves itself into, without and with
// enforce attached to it (both ends of every connection configured), for
// two programs: one that sets no keepalive option (keepalive -1 on both
// ends, like Python or C programs: only the sock_ops program works) and
// Go's defaults (15 s/15 s/9 after connect and accept: guard also rewrites
// three values per end). It prints the medians side by side: connections
// per second (wall time) and CPU time per connection (steadier on a
// shared machine):
//
//	go test -run '^$' -bench ConnectAccept ./enforce/
//
// The cases alternate benchRounds times, which matters on a shared
// machine. Plain and enforced run in the same non-root cgroup, so that the
// comparison is enforce's cost alone.
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

	type key struct{ program, mode string }
	rates, cpus, progs := map[key][]float64{}, map[key][]float64{}, map[key][]float64{}
	programs := []string{"no-options", "go-default", "flatline"}
	for range benchRounds {
		for _, program := range programs {
			for _, mode := range []string{"plain", "enforced"} {
				if program == "flatline" && mode == "enforced" {
					continue // the reference: the same options set from user space
				}
				var rate, cpu float64
				b.Run(program+"/"+mode, func(b *testing.B) {
					if mode == "enforced" {
						e, err := enforce.Attach(g.Path, enforce.Options{Config: flatline.Config{Timeout: 5 * time.Second}})
						if err != nil {
							b.Skip(err)
						}
						defer e.Close()
					}
					start, c0 := time.Now(), cpuTime()
					connectAccept(b, program)
					rate = float64(b.N) / time.Since(start).Seconds()
					cpu = float64((cpuTime() - c0).Nanoseconds()) / 1e3 / float64(b.N)
					b.ReportMetric(rate, "conns/s")
					b.ReportMetric(cpu, "cpu-µs/conn")
				})
				k := key{program, mode}
				rates[k] = append(rates[k], rate)
				cpus[k] = append(cpus[k], cpu)
			}
		}
	}
	// One more enforced round per program with the kernel's accounting of
	// BPF run time on (BPF_ENABLE_STATS, off again when closed; it costs
	// time of its own, so not during the comparison): how much of the
	// difference is enforce's programs, how much the options' own work.
	if st, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME)); err == nil {
		for _, program := range programs[:2] {
			b.Run(program+"/enforced-stats", func(b *testing.B) {
				e, err := enforce.Attach(g.Path, enforce.Options{Config: flatline.Config{Timeout: 5 * time.Second}})
				if err != nil {
					b.Skip(err)
				}
				defer e.Close()
				p0 := enforceRunTime()
				connectAccept(b, program)
				v := float64((enforceRunTime() - p0).Nanoseconds()) / 1e3 / float64(b.N)
				progs[key{program, "enforced"}] = append(progs[key{program, "enforced"}], v)
				b.ReportMetric(v, "bpf-µs/conn")
			})
		}
		st.Close()
	}
	fmt.Printf("\nmedian of %d interleaved rounds  plain       enforced    change\n", benchRounds)
	for _, p := range programs {
		rp, re := median(rates[key{p, "plain"}]), median(rates[key{p, "enforced"}])
		cp, ce := median(cpus[key{p, "plain"}]), median(cpus[key{p, "enforced"}])
		if p == "flatline" {
			fmt.Printf("%-11s connect+accept/s    %-11.0f (the plan set by flatline.Dialer and ListenConfig)\n", p, rp)
			fmt.Printf("%-11s CPU µs/connection   %-11.2f\n", p, cp)
			continue
		}
		if rp == 0 || re == 0 {
			continue
		}
		fmt.Printf("%-11s connect+accept/s    %-11.0f %-11.0f %+.1f %%\n", p, rp, re, 100*(re/rp-1))
		fmt.Printf("%-11s CPU µs/connection   %-11.2f %-11.2f %+.1f %%\n", p, cp, ce, 100*(ce/cp-1))
		fmt.Printf("%-11s of which in enforce's programs      %-11.2f (the kernel's BPF run-time accounting; the rest is the options' own work)\n", p, median(progs[key{p, "enforced"}]))
	}
}

// benchRounds is how many times the plain and enforced cases alternate.
const benchRounds = 5

// connectAccept dials and accepts b.N connections on a fresh loopback
// listener, closing both ends with RST (no TIME-WAIT left behind). The
// program is "go-default" (Go's keepalive defaults on both ends),
// "no-options" (no keepalive option set) or "flatline" (the plan of a 5 s
// flatline.Config on both ends, set from user space; no spreading).
func connectAccept(b *testing.B, program string) {
	var lc interface {
		Listen(context.Context, string, string) (net.Listener, error)
	} = &net.ListenConfig{}
	var d interface {
		Dial(string, string) (net.Conn, error)
	} = &net.Dialer{}
	switch program {
	case "no-options":
		lc, d = &net.ListenConfig{KeepAlive: -1}, &net.Dialer{KeepAlive: -1}
	case "flatline":
		cfg := flatline.Config{Timeout: 5 * time.Second, Spread: flatline.NoSpread}
		lc, d = &flatline.ListenConfig{Config: cfg}, &flatline.Dialer{Config: cfg}
	}
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	b.ResetTimer()
	for range b.N {
		c, err := d.Dial("tcp4", addr)
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		c.(interface{ SetLinger(int) error }).SetLinger(0)
		c.Close()
		s.Close()
	}
}

// enforceRunTime is the run time the kernel has accounted to the
// programs named apply (sock_ops) and guard (cgroup sockopt) loaded now:
// enforce's, in this benchmark. Zero where BPF statistics are off.
func enforceRunTime() time.Duration {
	var total time.Duration
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
		if info, err := p.Info(); err == nil && (info.Name == "apply" && info.Type == ebpf.SockOps || info.Name == "guard" && info.Type == ebpf.CGroupSockopt) {
			if st, err := p.Stats(); err == nil {
				total += st.Runtime
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

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
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
