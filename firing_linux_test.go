package flatline_test

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/topology"
)

// TestIntegrationFiringBoundaries checks the kernel model's keepalive
// sequence, and Validate with it, against the kernel: idle connections
// with user timeouts around the keepalive firings are cut in the router
// and each one's probe count at death (tcpi_probes) must lie in the range
// the model gives for this kernel's HZ; the ones Validate accepts must
// send exactly Count probes. The death itself must come within the bound
// plus its stated slack (the timer wheel's) and schedSlack.
func TestIntegrationFiringBoundaries(t *testing.T) {
	host, err := flatline.ReadHost("/")
	if err != nil || host.HZ == 0 {
		t.Skipf("HZ unknown here (%v): the model's range would be the widest, not this kernel's", err)
	}
	topo := newTopology(t)
	listen(t, topo, 7100, nil)
	ms := time.Millisecond
	s := time.Second
	cases := []flatline.Settings{
		{KeepAlive: true, Idle: s, Interval: s, Count: 2, UserTimeout: 1500 * ms},         // below Idle + Interval: one probe
		{KeepAlive: true, Idle: s, Interval: s, Count: 2, UserTimeout: 2010 * ms},         // within the lateness of the second firing
		{KeepAlive: true, Idle: s, Interval: s, Count: 2, UserTimeout: 2600 * ms},         // flatline's own for T = 3 s
		{KeepAlive: true, Idle: s, Interval: s, Count: 2, UserTimeout: 3000 * ms},         // Idle + Count·Interval
		{KeepAlive: true, Idle: s, Interval: s, Count: 2},                                 // Count alone
		{KeepAlive: true, Idle: 2 * s, Interval: 2 * s, Count: 3, UserTimeout: 6010 * ms}, // the second case
		// Idle 3 s lands in a 256 ms bucket at HZ=250: the third firing
		// can come up to 320 ms after 5 s.
		{KeepAlive: true, Idle: 3 * s, Interval: s, Count: 3, UserTimeout: 5050 * ms},
		{KeepAlive: true, Idle: 3 * s, Interval: s, Count: 3, UserTimeout: 5400 * ms}, // safe at 250, not at every HZ
		{KeepAlive: true, Idle: 3 * s, Interval: s, Count: 3, UserTimeout: 5600 * ms},
	}
	type tracked struct {
		set  flatline.Settings
		k    *conn
		d    kernel.Death
		sc   syscall.RawConn
		keep bool // Validate accepts it as an override
	}
	var all []tracked
	for i, set := range cases {
		set := set
		d := net.Dialer{KeepAlive: -1, Control: func(_, _ string, c syscall.RawConn) error {
			var err error
			if cerr := c.Control(func(fd uintptr) { err = kernel.SetOptions(int(fd), kernel.Options(set)) }); cerr != nil {
				return cerr
			}
			return err
		}}
		k := dial(t, topo, "case "+strconv.Itoa(i), &d, 7100, modeHold)
		death, err := kernel.Options(set).Keepalive().Death(host.HZ)
		if err != nil {
			t.Fatal(err)
		}
		cfg := flatline.Config{Timeout: time.Minute, Idle: set.Idle, Interval: set.Interval, Count: set.Count, UserTimeout: set.UserTimeout, Spread: flatline.NoSpread}
		if set.UserTimeout == 0 {
			cfg.UserTimeout = set.Idle + time.Duration(set.Count)*set.Interval // what a plan would set; keepalive alone is Count's
		}
		sc, err := k.c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, tracked{set: set, k: k, d: death, sc: sc, keep: cfg.Validate() == nil})
	}
	// Let the mode byte's ACK arrive: the keepalive clock starts there.
	time.Sleep(50 * time.Millisecond) // not a condition: the last ACK on a veth path is sub-millisecond
	fault := time.Now()
	if err := topo.Apply(topology.Blackhole); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(15 * time.Second)
	for _, tr := range all {
		select {
		case <-tr.k.died:
		case <-deadline:
			t.Fatalf("%+v: still alive 15 s after the fault", tr.set)
		}
		var info *kernelInfo
		_ = tr.sc.Control(func(fd uintptr) { info = readInfo(int(fd)) })
		bound := tr.set.Bounds(host)[0]
		at := tr.k.d.at.Sub(fault)
		dl, _ := bound.Deadline()
		t.Logf("%v/%v/%d U=%v: died at %v after %d probes (model %d-%d, bound %v), Validate accepts: %v, err %v",
			tr.set.Idle, tr.set.Interval, tr.set.Count, tr.set.UserTimeout, at.Round(ms), info.probes, tr.d.MinProbes, tr.d.MaxProbes, bound, tr.keep, tr.k.d.err)
		if !errors.Is(tr.k.d.err, syscall.ETIMEDOUT) {
			t.Errorf("%+v: died with %v, want ETIMEDOUT", tr.set, tr.k.d.err)
		}
		if info.probes < tr.d.MinProbes || info.probes > tr.d.MaxProbes {
			t.Errorf("%+v: the kernel sent %d probes, the model says %d-%d", tr.set, info.probes, tr.d.MinProbes, tr.d.MaxProbes)
		}
		if tr.keep && info.probes != tr.set.Count {
			t.Errorf("%+v: Validate accepts it, but the kernel sent %d probes, not Count %d", tr.set, info.probes, tr.set.Count)
		}
		if at > dl+schedSlack {
			t.Errorf("%+v: died %v after the fault, past the bound %v", tr.set, at, bound)
		}
	}
}

type kernelInfo struct{ probes int }

func readInfo(fd int) *kernelInfo {
	ti, err := kernel.ReadTCPInfo(fd)
	if err != nil {
		return &kernelInfo{probes: -1}
	}
	return &kernelInfo{probes: int(ti.Probes)}
}
