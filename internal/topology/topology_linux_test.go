package topology

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newTestTopology builds a topology or skips the test when the machine
// cannot (not root, no namespaces, no nf_tables).
func newTestTopology(t *testing.T) *Topology {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topo, err := New(ctx)
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("lab not supported here: %v", err)
	}
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return topo
}

// echoServer listens in the server namespace and echoes every connection.
func echoServer(t *testing.T, topo *Topology) net.Addr {
	t.Helper()
	var ln net.Listener
	err := topo.Server.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(topo.ServerAddr.String(), "0"))
		return err
	})
	if err != nil {
		t.Fatalf("listen in server namespace: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr()
}

// dial connects from the client namespace within d.
func dial(topo *Topology, addr net.Addr, d time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var c net.Conn
	err := topo.Client.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr.String())
		return err
	})
	return c, err
}

func roundTrip(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	want := "ping"
	if _, err := io.WriteString(c, want); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	if got := string(buf); got != want {
		t.Fatalf("echo: got %q, want %q", got, want)
	}
}

func TestIntegrationTopology(t *testing.T) {
	topo := newTestTopology(t)
	addr := echoServer(t, topo)

	c, err := dial(topo, addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %v from client namespace: %v", addr, err)
	}
	roundTrip(t, c)
	c.Close()

	// A dial through a cut path must not complete; 300 ms is plenty for a
	// veth round trip (microseconds), so a timeout means the fault holds.
	const short = 300 * time.Millisecond
	for _, f := range []Fault{Blackhole, OneWayOut, OneWayIn, LinkDown} {
		t.Run(string(f), func(t *testing.T) {
			if err := topo.Apply(f); err != nil {
				t.Fatalf("Apply(%s): %v", f, err)
			}
			_, err := dial(topo, addr, short)
			switch {
			case err == nil:
				t.Errorf("dial under %s succeeded, want failure", f)
			case f == LinkDown:
				t.Logf("dial under %s: %v", f, err)
				// The router has no route to the server: ICMP unreachable
				// (or a timeout if the ICMP is rate limited).
				if !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.ENETUNREACH) && !isTimeout(err) {
					t.Errorf("dial under %s: %v, want unreachable or timeout", f, err)
				}
			default:
				if !isTimeout(err) {
					t.Errorf("dial under %s: %v, want a timeout", f, err)
				}
				n, err := topo.FaultDrops()
				if err != nil {
					t.Fatalf("FaultDrops: %v", err)
				}
				if n == 0 {
					t.Errorf("FaultDrops under %s = 0, want > 0", f)
				}
			}
			if err := topo.Heal(); err != nil {
				t.Fatalf("Heal: %v", err)
			}
			c, err := dial(topo, addr, 2*time.Second)
			if err != nil {
				t.Fatalf("dial after healing %s: %v", f, err)
			}
			roundTrip(t, c)
			c.Close()
		})
	}

	// After every fault, link-down included, IPv6 works too.
	t.Run("ipv6", func(t *testing.T) {
		if !topo.ServerAddr6.IsValid() {
			t.Skip("no IPv6 in this kernel")
		}
		var ln net.Listener
		if err := topo.Server.Do(func() error {
			var err error
			ln, err = net.Listen("tcp", net.JoinHostPort(topo.ServerAddr6.String(), "0"))
			return err
		}); err != nil {
			t.Fatalf("listen on %v: %v", topo.ServerAddr6, err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				defer c.Close()
				io.Copy(c, c)
			}
		}()
		c, err := dial(topo, ln.Addr(), 2*time.Second)
		if err != nil {
			t.Fatalf("dial %v: %v", ln.Addr(), err)
		}
		defer c.Close()
		roundTrip(t, c)
		if err := topo.Apply(Blackhole); err != nil {
			t.Fatal(err)
		}
		if _, err := dial(topo, ln.Addr(), 300*time.Millisecond); !isTimeout(err) {
			t.Errorf("IPv6 dial under blackhole: %v, want a timeout", err)
		}
		if err := topo.Heal(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("police-acks", func(t *testing.T) {
		if err := topo.PoliceACKs(1, 1); err != nil {
			t.Fatalf("PoliceACKs: %v", err)
		}
		c, err := dial(topo, addr, 2*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		// Every echoed segment is answered by the client with an ACK-only
		// segment (possibly delayed); 50 round trips make well over one.
		for range 50 {
			roundTrip(t, c)
		}
		n, err := topo.PolicedPackets()
		if err != nil {
			t.Fatalf("PolicedPackets: %v", err)
		}
		if n == 0 {
			t.Errorf("PolicedPackets = 0 after 50 round trips at 1/s, want > 0")
		}
		if err := topo.ClearPolice(); err != nil {
			t.Fatalf("ClearPolice: %v", err)
		}
	})

	name := topo.Name()
	if err := topo.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := topo.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(NetnsDir, name+"*"))
	if len(left) > 0 {
		t.Errorf("after Close, left in %s: %v", NetnsDir, left)
	}
}

func TestIntegrationSweep(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	// A namespace named for a PID that cannot exist (above pid_max) is stale.
	stale := Prefix + "4194305-test-cli"
	n, err := newNamespace(stale)
	if err != nil {
		t.Fatalf("newNamespace: %v", err)
	}
	t.Cleanup(func() { removeNamespace(n.Path) })
	// One of our own is not.
	own, err := newNamespace(Prefix + strings.Join([]string{itoa(os.Getpid()), "sweeptest", "cli"}, "-"))
	if err != nil {
		t.Fatalf("newNamespace: %v", err)
	}
	t.Cleanup(func() { removeNamespace(own.Path) })

	removed, err := Sweep()
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if !contains(removed, stale) {
		t.Errorf("Sweep removed %v, want it to include %s", removed, stale)
	}
	if contains(removed, own.Name) {
		t.Errorf("Sweep removed %s, a namespace of a live process", own.Name)
	}
	if _, err := os.Stat(own.Path); err != nil {
		t.Errorf("own namespace gone after Sweep: %v", err)
	}
}

// isTimeout reports a dial that ran out of time: net reports an expired
// context as either context.DeadlineExceeded or os.ErrDeadlineExceeded,
// depending on where the dial was.
func isTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
