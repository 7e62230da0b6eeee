package flatline_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/testutil"
)

// BenchmarkDialAccept compares a loopback dial + accept through flatline
// with the same through a plain net.Dialer and net.ListenConfig, on the
// same run:
//
//	go test -run '^$' -bench DialAccept -count 6 . | tee /tmp/b; benchstat -col /dialer /tmp/b
//
// cpu-ns/op is the process's CPU time a connection (both ends, the
// accepting goroutine's included), steadier than ns/op on a shared
// machine.
//
// setsockopt calls per side: Go's defaults make 4 (SO_KEEPALIVE,
// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT) after connecting; flatline
// makes 6 before (the same, TCP_USER_TIMEOUT and, Linux 6.15+,
// TCP_RTO_MAX_MS) and 2 more when Spread re-arms keepalive, later, off the
// dial path, from one timer per slot of the Dialer's or listener's
// spreader; both also set TCP_NODELAY. The Dialer derives its plan once
// per Config, not per dial. BenchmarkDialerVsNet is the Dialer alone,
// with the noise of a shared machine taken out.
func BenchmarkDialAccept(b *testing.B) {
	cfg := flatline.Config{Timeout: 30 * time.Second, Spread: flatline.NoSpread}
	for _, bc := range []struct {
		name   string
		dial   func(ctx context.Context, network, addr string) (net.Conn, error)
		listen func(ctx context.Context, network, addr string) (net.Listener, error)
	}{
		{"dialer=net", (&net.Dialer{}).DialContext, (&net.ListenConfig{}).Listen},
		{"dialer=flatline", (&flatline.Dialer{Config: cfg}).DialContext, (&flatline.ListenConfig{Config: cfg}).Listen},
		{"dialer=flatline-spread", (&flatline.Dialer{}).DialContext, (&flatline.ListenConfig{}).Listen},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := bc.listen(context.Background(), "tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			addr := ln.Addr().String()
			ctx := context.Background()
			b.ResetTimer()
			cpu := processCPU()
			for range b.N {
				c, err := bc.dial(ctx, "tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
			b.StopTimer()
			// CPU time a connection, both ends: steadier than wall time
			// on a shared machine.
			if cpu > 0 {
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
			}
			ln.Close()
			<-done
		})
	}
}

// BenchmarkDialerVsNet is the Dialer against a plain net.Dialer, per dial,
// on the same run:
//
//	go test -run '^$' -bench DialerVsNet -benchtime 1x .
//
// The cases alternate (testutil.Interleave) for many rounds of a few
// hundred dials each, and the table gives the median CPU and wall time a
// dial, and the median of the per-round ratios to net.Dialer with its
// 95 % interval: on a shared machine a single run's noise (±10 %) is
// larger than the differences, the ratio of neighbouring rounds is not.
// CPU is the whole process's (getrusage): the dialing goroutine, the
// accepting one (the same plain listener, keepalive off, for every
// case), the spreader's timers, the garbage collector. Wall time is the
// dial loop's alone.
//
// The floor (Linux): "net.Dialer + options" is a plain net.Dialer with
// Go's keepalive off that sets the Spread case's six options itself in
// its ControlContext (handSetDialer), the least any program pays for
// them through net.Dialer. Go's default sets four (SO_KEEPALIVE and the
// three keepalive values), the plan two more (TCP_USER_TIMEOUT,
// TCP_RTO_MAX_MS), and a setsockopt costs 1.4-2 µs on this 2-core VM
// (page-table isolation on every system call): the floor is +4.5 to
// +5 % on a quiet machine, and the Dialer's own cost (the plan's cache,
// the spreader) is the distance from it. Beside other work the process
// has been charged 5-25 µs of CPU a dial beyond its wall time, more for
// the cases that set the options: compare CPU with wall before trusting
// a run's CPU ratios.
//
// Two ways connections are used:
//
//   - closed at once (a request, then close): the Dialer's default
//     (Timeout 30 s, Spread 7 s). The spreader's re-arm, up to 7 s
//     later, finds the connection closed and does nothing but look; it
//     lands in whichever case's round runs then, and so does the
//     collector's work on the connections the spreader holds until then
//     (what those cost is measured apart, below).
//   - held past their re-arm (a pool): a batch of connections stays open
//     until the spreader has re-armed every one (Spread 50 ms, held
//     150 ms after the last dial, then closed together), so each round's
//     CPU includes the re-arm's two setsockopt calls a connection. Its
//     wall time is the dial loop's; its CPU includes the idle hold, when
//     anything else the process or the kernel charges to it counts too.
//
// Last, what the default Spread (7 s) holds: the spreader keeps every
// connection until its re-arm instant or, closed, until the next prune
// (a slot, 53 ms, after it was handed over). One block of dials
// closed at once without Spread, then one with it (in turn, not
// interleaved: the held connections would weigh on every case), and the
// live heap after a collection and the garbage collector's CPU time
// (runtime/metrics) of each.
//
// The accepting side reads until the dialer closes, then resets the
// connection (SO_LINGER 0), so that no TIME-WAIT socket slows later
// connects; a round ends when the server has ended all its connections.
func BenchmarkDialerVsNet(b *testing.B) {
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ended := make(chan struct{}, 1024) // one for each connection the server has reset
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.Read(make([]byte, 1)) // until the dialer closes
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				ended <- struct{}{}
			}()
		}
	}()
	addr := ln.Addr().String()
	type dialer interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
	const timeout = 30 * time.Second
	for _, regime := range []struct {
		title  string
		rounds int
		batch  int
		hold   time.Duration // zero: each connection closed at once
		spread time.Duration
	}{
		{"closed at once", 301, 200, 0, 0},
		{"held past the re-arm", 41, 200, 150 * time.Millisecond, 50 * time.Millisecond},
	} {
		spreadCfg := flatline.Config{Timeout: timeout, Spread: regime.spread}
		plan, err := spreadCfg.Plan()
		if err != nil {
			b.Fatal(err)
		}
		cases := []string{"net.Dialer", "Dialer NoSpread", "Dialer Spread"}
		dialers := map[string]dialer{
			"net.Dialer":      &net.Dialer{},
			"Dialer NoSpread": &flatline.Dialer{Config: flatline.Config{Timeout: timeout, Spread: flatline.NoSpread}},
			"Dialer Spread":   &flatline.Dialer{Config: spreadCfg},
		}
		if floor := handSetDialer(plan.Settings); floor != nil {
			cases = slices.Insert(cases, 1, "net.Dialer + options")
			dialers["net.Dialer + options"] = floor
		}
		ctx := context.Background()
		conns := make([]net.Conn, 0, regime.batch)
		costs := testutil.Interleave(regime.rounds, cases, func(name string) testutil.Cost {
			d := dialers[name]
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			cpu, start := processCPU(), time.Now()
			for range regime.batch {
				c, err := d.DialContext(ctx, "tcp4", addr)
				if err != nil {
					b.Fatal(err)
				}
				if regime.hold == 0 {
					c.Close()
				} else {
					conns = append(conns, c)
				}
			}
			wall := time.Since(start)
			if regime.hold > 0 {
				<-time.After(regime.hold) // every re-arm is due (Spread and a slot)
				for _, c := range conns {
					c.Close()
				}
				conns = conns[:0]
			}
			for range regime.batch {
				<-ended
			}
			cpu = processCPU() - cpu
			runtime.ReadMemStats(&ms1)
			n := time.Duration(regime.batch)
			return testutil.Cost{CPU: cpu / n, Wall: wall / n, Allocs: float64(ms1.Mallocs-ms0.Mallocs) / float64(n)}
		})
		fmt.Printf("\n%s: %d rounds of %d dials a case, interleaved (medians; change: median of per-round ratios, 95 %% interval)\n", regime.title, regime.rounds, regime.batch)
		testutil.Comparison(os.Stdout, "per dial", cases, costs)
	}
	spreadHeld(b, addr, ended)
}

// spreadHeld prints what the spreader of the default Spread holds: the
// live heap after n dials closed at once, with and without Spread, and
// the garbage collector's CPU time a dial.
func spreadHeld(b *testing.B, addr string, ended <-chan struct{}) {
	const n = 30000
	fmt.Printf("\nthe default Spread's held connections: %d dials closed at once, without Spread, then with it (in turn)\n", n)
	for _, spread := range []time.Duration{flatline.NoSpread, 0} {
		d := &flatline.Dialer{Config: flatline.Config{Timeout: 30 * time.Second, Spread: spread}}
		runtime.GC()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		gc0, cpu, start := gcCPU(), processCPU(), time.Now()
		for range n {
			c, err := d.DialContext(context.Background(), "tcp4", addr)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
			<-ended
		}
		wall, cpu, gc := time.Since(start), processCPU()-cpu, gcCPU()-gc0
		runtime.GC()
		runtime.ReadMemStats(&ms1)
		name := "Spread 7s"
		if spread == flatline.NoSpread {
			name = "NoSpread"
		}
		fmt.Printf("%-10s live heap %+6.1f MB (%4.0f bytes a dial)  CPU %5.2f µs a dial, of which GC %4.2f µs  wall %5.2f µs a dial\n", name,
			(float64(ms1.HeapAlloc)-float64(ms0.HeapAlloc))/1e6, (float64(ms1.HeapAlloc)-float64(ms0.HeapAlloc))/n,
			cpu.Seconds()*1e6/n, gc.Seconds()*1e6/n, wall.Seconds()*1e6/n)
	}
}

// gcCPU is the garbage collector's CPU time so far, as the runtime
// estimates it.
func gcCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(s[0].Value.Float64() * 1e9)
}

// BenchmarkPlan compares a pure Config.Plan with what it cost when every
// call read the host (kernel release and version) itself: here, a plan
// for a host read with ReadHost on every call:
//
//	go test -run '^$' -bench 'BenchmarkPlan$' -count 5 .
func BenchmarkPlan(b *testing.B) {
	cfg := flatline.Config{Timeout: 30 * time.Second}
	b.Run("pure", func(b *testing.B) {
		for b.Loop() {
			if _, err := cfg.Plan(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reading-host", func(b *testing.B) {
		for b.Loop() {
			h, err := flatline.ReadHost("/")
			if err != nil {
				b.Skip(err)
			}
			if _, err := cfg.PlanFor(h); err != nil {
				b.Fatal(err)
			}
		}
	})
}
