package trace

import (
	"fmt"
	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
	"net"
	"os"
	"slices"
	"testing"
	"text/tabwriter"
	"time"
)

// BenchmarkOverhead measures connections opened, used (one byte each
// way) and closed per second on loopback, without the tracer and with it
// attached, alternating three rounds of each (after one warm-up round of
// each, not counted) so that load from elsewhere falls on both; it prints
// the rates side by side and the difference of the medians.
// With the tracer attached it also counts the time the kernel spent in
// its programs (BPF run-time statistics, enabled only while the benchmark
// holds them): a figure the load of other processes does not blur. Needs
// root.
//
//	go test ./trace -run '^$' -bench Overhead -benchtime 2s
func BenchmarkOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("loading BPF programs needs root")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 1)
				if _, err := c.Read(buf); err == nil {
					c.Write(buf)
				}
				c.Close()
			}()
		}
	}()
	one := func() error {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write([]byte{1}); err != nil {
			return err
		}
		_, err = c.Read(make([]byte, 1))
		return err
	}
	rate := map[bool][]float64{}
	var bpfTime time.Duration
	var bpfRuns, conns uint64
	for round := range 4 {
		for _, traced := range []bool{false, true} {
			name := fmt.Sprintf("round%d/traced=%v", round, traced)
			b.Run(name, func(b *testing.B) {
				var tr *Tracer
				if traced {
					var err error
					if tr, err = New(Options{}); err != nil {
						b.Skip(err)
					}
					defer tr.Close()
					stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
					if err != nil {
						b.Skip("BPF run-time statistics:", err)
					}
					defer stats.Close()
				}
				start := time.Now()
				for b.Loop() {
					if err := one(); err != nil {
						b.Fatal(err)
					}
				}
				if tr != nil && round > 0 {
					d, n := tr.programStats()
					bpfTime += d
					bpfRuns += n
					conns += uint64(b.N)
				}
				r := float64(b.N) / time.Since(start).Seconds()
				b.ReportMetric(r, "conns/s")
				if round > 0 {
					rate[traced] = append(rate[traced], r)
				}
			})
		}
	}
	median := func(v []float64) float64 {
		if len(v) == 0 {
			return 0
		}
		v = slices.Clone(v)
		slices.Sort(v)
		return v[len(v)/2]
	}
	off, on := median(rate[false]), median(rate[true])
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\nloopback connections/s (open, 1 byte each way, close)\tmedian of rounds\trounds\t\n")
	fmt.Fprintf(tw, "without trace\t%.0f\t%.0f\t\n", off, rate[false])
	fmt.Fprintf(tw, "with trace attached\t%.0f\t%.0f\t\n", on, rate[true])
	if off > 0 {
		fmt.Fprintf(tw, "difference of the medians\t%.1f %%\t\t\n", 100*(off-on)/off)
	}
	if conns > 0 && off > 0 {
		per := bpfTime / time.Duration(conns)
		fmt.Fprintf(tw, "kernel time in trace's programs per connection\t%v\t%d runs, %.1f per connection\t\n", per, bpfRuns, float64(bpfRuns)/float64(conns))
		fmt.Fprintf(tw, "  of a connection's time without trace\t%.2f %%\t\t\n", 100*per.Seconds()*off)
	}
	tw.Flush()
}
