//go:build linux

package flatline_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"golang.org/x/sys/unix"
)

func ru() (time.Duration, int64) {
	var r unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano()), r.Minflt
}

func BenchmarkZZFlt(b *testing.B) {
	lc := net.ListenConfig{KeepAlive: -1}
	ln, _ := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	defer ln.Close()
	ended := make(chan struct{}, 1024)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.Read(make([]byte, 1))
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
	cfg := flatline.Config{Timeout: 30 * time.Second}
	plan, _ := cfg.Plan()
	cases := []string{"net", "floor", "nospread", "spread"}
	ds := map[string]dialer{"net": &net.Dialer{}, "floor": handSetDialer(plan.Settings),
		"nospread": &flatline.Dialer{Config: flatline.Config{Timeout: 30 * time.Second, Spread: flatline.NoSpread}},
		"spread":   &flatline.Dialer{Config: cfg}}
	cpus := map[string][]float64{}
	flts := map[string][]float64{}
	tot := map[string]float64{}
	for r := range 301 {
		for i := range cases {
			name := cases[(r+i)%len(cases)]
			d := ds[name]
			c0, f0 := ru()
			for range 200 {
				c, err := d.DialContext(context.Background(), "tcp4", addr)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
			for range 200 {
				<-ended
			}
			c1, f1 := ru()
			cpus[name] = append(cpus[name], float64(c1-c0)/200/1e3)
			flts[name] = append(flts[name], float64(f1-f0)/200)
			tot[name] += float64(f1 - f0)
		}
	}
	for _, n := range cases {
		slices.Sort(cpus[n])
		slices.Sort(flts[n])
		fmt.Printf("%-10s cpu median %.2f µs  faults/dial median %.3f mean %.3f  p90 %.3f\n", n, cpus[n][150], flts[n][150], tot[n]/301/200, flts[n][270])
	}
}
