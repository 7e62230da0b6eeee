package lab

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/flatline-dev/flatline/internal/topology"
	"github.com/flatline-dev/flatline/storm"
)

// capturedProbe is a keepalive probe seen on the wire: an ACK-only segment
// from the client with seq = snd_una - 1.
type capturedProbe struct{ at time.Time }

// TestIntegrationWireOracle checks the lab's way of measuring against the
// wire: an idle flatline connection under a blackhole, its keepalive probes
// captured (AF_PACKET) on the router's client link, where the client's
// packets arrive before the drop rule. The application's error must come
// one keepalive interval after the last probe, and the probes must be the
// ones the plan counts on.
func TestIntegrationWireOracle(t *testing.T) {
	topo := testutil.Topology(t)
	const T = 3 * time.Second
	plan, err := flatline.Config{Timeout: T}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	cfg := flatline.Config{Timeout: T}

	var ln net.Listener
	if err := topo.Server.Do(func() error {
		lc := flatline.ListenConfig{Config: cfg}
		var err error
		ln, err = lc.Listen(context.Background(), "tcp", net.JoinHostPort(topo.ServerAddr.String(), "0"))
		return err
	}); err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()

	var capture *storm.Sniffer
	if err := topo.Router.Do(func() error {
		var err error
		capture, err = storm.Sniff(topology.RouterClientLink)
		return err
	}); err != nil {
		t.Skipf("no AF_PACKET capture here: %v", err)
	}
	t.Cleanup(func() { capture.Close() })
	probes := make(chan capturedProbe, 64)
	// Events of the capture: the client's first packet (the capture is
	// live and sees the connection) and the client's RST (the kernel
	// sends one when keepalive kills: every probe before it is in probes).
	handshake, reset := make(chan struct{}), make(chan struct{})
	go func() {
		var highest uint32 // highest seq+len seen from the client
		var first, rst sync.Once
		for {
			fr, err := capture.Read()
			if err != nil {
				return // closed
			}
			s, err := storm.DecodeSegment(storm.LinkEthernet, fr.Data)
			if err != nil || s.Flow.Src.Addr() != topo.ClientAddr {
				continue
			}
			first.Do(func() { close(handshake) })
			if s.Flags&storm.FlagRST != 0 {
				rst.Do(func() { close(reset) })
			}
			end := s.Seq + uint32(s.Len)
			if s.Flags&storm.FlagSYN != 0 {
				end++
			}
			if s.Flags&(storm.FlagFIN|storm.FlagSYN|storm.FlagRST|storm.FlagACK) == storm.FlagACK && s.Len == 0 && s.Seq == highest-1 {
				probes <- capturedProbe{fr.At}
				continue
			}
			if end > highest || highest == 0 {
				highest = end
			}
		}
	}()

	var c net.Conn
	if err := topo.Client.Do(func() error {
		d := flatline.Dialer{Config: cfg}
		var err error
		c, err = d.DialContext(context.Background(), "tcp", ln.Addr().String())
		return err
	}); err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	errc := make(chan time.Time, 1)
	var readErr error
	go func() {
		_, readErr = c.Read(make([]byte, 1))
		errc <- time.Now()
	}()

	// The capture sees the connection before the fault.
	select {
	case <-handshake:
	case <-errc:
		t.Fatalf("connection died before the fault: %v", readErr)
	case <-time.After(10 * time.Second):
		t.Fatal("the capture saw no packet of the client within 10 s")
	}
	if err := topo.Apply(Blackhole); err != nil {
		t.Fatal(err)
	}
	fault := time.Now()

	var died time.Time
	select {
	case died = <-errc:
	case <-time.After(10 * T):
		t.Fatalf("no error within %v of the blackhole", 10*T)
	}
	if !errors.Is(readErr, syscall.ETIMEDOUT) {
		t.Errorf("read error %v, want ETIMEDOUT", readErr)
	}
	// Every probe is captured once the client's RST is (it leaves after
	// them); without one (a kernel that sends none), what arrived.
	select {
	case <-reset:
	case <-time.After(2 * time.Second):
		t.Log("no RST from the client captured within 2 s of its error")
	}
	var seen []time.Time
	for len(probes) > 0 {
		p := <-probes
		if p.at.After(fault) {
			seen = append(seen, p.at)
		}
	}
	t.Logf("fault at 0, probes at %v, error at %v", offsets(fault, seen), died.Sub(fault).Round(time.Millisecond))
	if len(seen) == 0 {
		t.Fatalf("no keepalive probe captured between the fault and the error")
	}
	s := plan.Settings
	// The kernel kills at the first keepalive firing at or past the user
	// timeout: one interval after the last probe. Slack: the plan's own
	// (timer-wheel lateness) plus 20 ms for capture and wake-up.
	b := plan.Bound(flatline.StateIdle)
	gap := died.Sub(seen[len(seen)-1])
	if lo, hi := s.Interval-20*time.Millisecond, s.Interval+b.Slack+20*time.Millisecond; gap < lo || gap > hi {
		t.Errorf("error %v after the last probe, want one interval (%v) within [%v, %v]", gap, s.Interval, lo, hi)
	}
	// Probes one interval apart, as many as fit before the user timeout.
	for i := 1; i < len(seen); i++ {
		if d := seen[i].Sub(seen[i-1]); d < s.Interval-20*time.Millisecond || d > s.Interval+b.Slack+20*time.Millisecond {
			t.Errorf("probe %d came %v after probe %d, want %v", i+1, d, i, s.Interval)
		}
	}
	if want := int((s.UserTimeout - s.Idle + s.Interval - 1) / s.Interval); len(seen) > want+1 || len(seen) < want-1 {
		t.Errorf("%d probes after the fault, want about %d (idle %v, interval %v, user timeout %v)", len(seen), want, s.Idle, s.Interval, s.UserTimeout)
	}
}

func offsets(base time.Time, ts []time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, t := range ts {
		out[i] = t.Sub(base).Round(time.Millisecond)
	}
	return out
}
