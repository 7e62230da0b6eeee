package trace

import (
	"fmt"
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
// Needs root.
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
	for round := range 4 {
		for _, traced := range []bool{false, true} {
			name := fmt.Sprintf("round%d/traced=%v", round, traced)
			b.Run(name, func(b *testing.B) {
				if traced {
					tr, err := New(Options{})
					if err != nil {
						b.Skip(err)
					}
					defer tr.Close()
				}
				start := time.Now()
				for b.Loop() {
					if err := one(); err != nil {
						b.Fatal(err)
					}
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
		fmt.Fprintf(tw, "overhead\t%.1f %%\t\t\n", 100*(off-on)/off)
	}
	tw.Flush()
}
