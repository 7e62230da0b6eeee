package netlab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Addresses from 198.19.0.0/16, part of the benchmarking range
// 198.18.0.0/15 (RFC 2544), only ever inside the topology's namespaces.
var (
	ClientAddr   = netip.MustParseAddr("198.19.1.2")
	ServerAddr   = netip.MustParseAddr("198.19.2.2")
	routerClient = netip.MustParseAddr("198.19.1.1")
	routerServer = netip.MustParseAddr("198.19.2.1")
)

// Topology is three network namespaces, client <-> router <-> server,
// joined by veth pairs, forwarding on in the router.
type Topology struct {
	client, router, server netns.NsHandle
	table                  *nftables.Table
}

// New builds a topology, or skips the test when it cannot (not root, no
// namespaces); it is removed when the test ends.
func New(t testing.TB) *Topology {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	topo := &Topology{client: -1, router: -1, server: -1}
	t.Cleanup(topo.close)
	for _, h := range []*netns.NsHandle{&topo.client, &topo.router, &topo.server} {
		ns, err := newNS()
		if err != nil {
			t.Skipf("cannot create a network namespace: %v", err)
		}
		*h = ns
	}
	if err := topo.build(); err != nil {
		t.Fatalf("netlab: %v", err)
	}
	if err := topo.warmUp(10 * time.Second); err != nil {
		t.Fatalf("netlab: %v", err)
	}
	return topo
}

// warmUp sends one connection attempt from the client to a closed port of
// the server and waits for its refusal, so that both hops' neighbours are
// resolved before a test measures anything. Without it the first SYN can
// wait in a neighbour queue for the next ARP retry (1 s), and TCP takes
// that wait for the path's RTT: measured 0.88-0.90 s, an RTO of 3 s, and
// the user timeout, which starts at the first retransmission, 5 s late.
func (t *Topology) warmUp(within time.Duration) error {
	deadline := time.Now().Add(within)
	addr := netip.AddrPortFrom(ServerAddr, 9).String()
	for {
		err := t.InClient(func() error {
			c, err := net.DialTimeout("tcp", addr, time.Until(deadline))
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil || errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server is not reachable from the client within %v: %w", within, err)
		}
	}
}

// newNS makes an anonymous network namespace and returns a handle to it,
// leaving the calling thread where it was.
func newNS() (netns.NsHandle, error) {
	errc := make(chan error, 1)
	var ns netns.NsHandle
	go func() {
		runtime.LockOSThread() // not unlocked if the thread cannot go back: it dies
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		ns, err = netns.New()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("return to the original namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	return ns, <-errc
}

func (t *Topology) close() {
	for _, h := range []netns.NsHandle{t.client, t.router, t.server} {
		if h >= 0 {
			h.Close()
		}
	}
}

// do runs fn on a thread in ns.
func do(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, err) // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// InClient runs fn in the client namespace: sockets it makes belong there.
func (t *Topology) InClient(fn func() error) error { return do(t.client, fn) }

// InServer runs fn in the server namespace: sockets it makes, and
// processes it starts (exec.Cmd.Start), belong there.
func (t *Topology) InServer(fn func() error) error { return do(t.server, fn) }

// Dial wraps a dial function so that its sockets are made in the client
// namespace, whichever goroutine the client library dials on.
func (t *Topology) Dial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		err = t.InClient(func() error {
			c, err = dial(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// Listen listens on the server's address and port in the server namespace.
func (t *Topology) Listen(port int) (net.Listener, error) {
	var ln net.Listener
	err := t.InServer(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(ServerAddr, uint16(port)).String())
		return err
	})
	return ln, err
}

func (t *Topology) build() error {
	if err := do(t.router, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0)
	}); err != nil {
		return fmt.Errorf("forwarding in the router: %w", err)
	}
	rh, err := netlink.NewHandleAt(t.router)
	if err != nil {
		return err
	}
	defer rh.Close()
	if err := up(rh, "lo"); err != nil {
		return err
	}
	for _, side := range []struct {
		ns             netns.NsHandle
		link           string
		routerAddr, at netip.Addr
	}{{t.client, "cli", routerClient, ClientAddr}, {t.server, "srv", routerServer, ServerAddr}} {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: side.link}, PeerName: "eth0", PeerNamespace: netlink.NsFd(side.ns)}
		if err := rh.LinkAdd(veth); err != nil {
			return fmt.Errorf("veth %s: %w", side.link, err)
		}
		if err := addr(rh, side.link, side.routerAddr); err != nil {
			return err
		}
		if err := up(rh, side.link); err != nil {
			return err
		}
		h, err := netlink.NewHandleAt(side.ns)
		if err != nil {
			return err
		}
		err = errors.Join(up(h, "lo"), up(h, "eth0"), addr(h, "eth0", side.at))
		if err == nil {
			err = h.RouteAdd(&netlink.Route{Gw: net.IP(side.routerAddr.AsSlice())})
		}
		h.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func up(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	return h.LinkSetUp(l)
}

func addr(h *netlink.Handle, name string, a netip.Addr) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	return h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(24, 32)}})
}

// Partition drops every packet the router would forward, both ways, from
// now on (an nftables forward chain with policy drop in the router).
func (t *Topology) Partition() error {
	c, err := nftables.New(nftables.WithNetNSFd(int(t.router)))
	if err != nil {
		return err
	}
	drop := nftables.ChainPolicyDrop
	t.table = c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "netlab"})
	c.AddChain(&nftables.Chain{Name: "forward", Table: t.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("netlab: partition: %w", err)
	}
	return nil
}

// Heal removes the partition.
func (t *Topology) Heal() error {
	if t.table == nil {
		return nil
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(t.router)))
	if err != nil {
		return err
	}
	c.DelTable(t.table)
	t.table = nil
	return c.Flush()
}
