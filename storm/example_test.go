package storm_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/storm"
)

// 1000 connections made together with keepalive 3s/1s: without spreading
// they all probe in one tick; arming them over 3 s of golden-ratio delays
// brings the worst burst down to the wheel's floor.
func ExampleModel_Run() {
	k := storm.Keepalive{Idle: 3 * time.Second, Interval: time.Second, Count: 1}
	for _, s := range []storm.Strategy{storm.Static, storm.Golden} {
		conns, _ := storm.Conns(s, k, 3*time.Second, nil, 1000, rand.New(rand.NewPCG(1, 1)))
		res, _ := storm.Model{Clock: storm.Clock{HZ: 250}, Horizon: 30 * time.Second}.Run(conns)
		fmt.Printf("%s: worst burst %d\n", s, storm.WorstBurst(res.Times(), res.Tick).Probes)
	}
	fmt.Println("floor:", storm.Floor(1000, 256*time.Millisecond, 3*time.Second))
	// Output:
	// static: worst burst 1000
	// golden: worst burst 86
	// floor: 86
}

// A capture taken with dumpcap on loopback: 50 Go connections with
// keepalive 1s/1s/3 made together probe in one burst every second.
func ExampleReadCapture() {
	f, err := os.Open("testdata/loopback-keepalive.pcapng")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	c, err := storm.ReadCapture(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := c.Analyze(4*time.Millisecond, 256*time.Millisecond)
	fmt.Printf("%d probes from %d flows, worst burst %d, %d lockstep group of %d flows\n",
		r.Probes, r.Flows, r.WorstBurst, len(r.Lockstep), len(r.Lockstep[0]))
	// Output:
	// 200 probes from 50 flows, worst burst 50, 1 lockstep group of 50 flows
}

// How bad is a storm of 2000 connections with a 30 s timeout, and what
// timeout keeps bursts within 60 probes?
func ExamplePredict() {
	f, err := storm.Predict(flatline.Config{Timeout: 30 * time.Second}, 2000, 250, 60)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range f.Strategies {
		fmt.Printf("%s: %d\n", s.Strategy, s.WorstBurst)
	}
	fmt.Println("floor:", f.Floor, "recommended timeout:", f.Recommended.Timeout)
	// Output:
	// static: 2000
	// jitter: 1003
	// flatline: 88
	// floor: 74 recommended timeout: 46s
}
