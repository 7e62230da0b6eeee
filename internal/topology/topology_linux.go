package topology

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// New sweeps stale lab namespaces (see Sweep), then builds a fresh topology
// with a unique name: flt-<pid>-<random>-{cli,rtr,srv}. Nothing is created
// in the caller's own network namespace, not even transiently: the veth
// pairs are made by a netlink handle opened at the router namespace, with
// their peers created directly in the endpoint namespaces. On error,
// everything already made is removed. Without root it returns an error
// matching ErrNotSupported.
func New(ctx context.Context) (*Topology, error) {
	if os.Geteuid() != 0 {
		return nil, &UnsupportedError{Feature: "root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces"}
	}
	if _, err := Sweep(); err != nil {
		return nil, err
	}
	var rnd [3]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("lab: random name: %w", err)
	}
	t := &Topology{
		id:         strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:]),
		ClientAddr: clientAddr,
		ServerAddr: serverAddr,
	}
	if err := t.build(ctx); err != nil {
		return nil, errors.Join(err, t.Close())
	}
	return t, nil
}

// Name is the common part of the topology's namespace names, e.g.
// "flt-1234-9f3a2c".
func (t *Topology) Name() string { return Prefix + t.id }

func (t *Topology) build(ctx context.Context) error {
	var err error
	for _, p := range []struct {
		ns   **Namespace
		role string
	}{{&t.Client, "cli"}, {&t.Router, "rtr"}, {&t.Server, "srv"}} {
		if err := ctx.Err(); err != nil {
			return err
		}
		if *p.ns, err = newNamespace(t.Name() + "-" + p.role); err != nil {
			return err
		}
	}
	if t.routerNS, err = os.Open(t.Router.Path); err != nil {
		return fmt.Errorf("lab: open router namespace: %w", err)
	}
	if t.router, err = netlink.NewHandleAt(netns.NsHandle(t.routerNS.Fd())); err != nil {
		return fmt.Errorf("lab: netlink in router namespace: %w", err)
	}
	if err := t.Router.Do(enableForwarding); err != nil {
		return err
	}
	for _, ns := range []*Namespace{t.Client, t.Router, t.Server} {
		if err := ns.Do(keepIPv6Addresses); err != nil {
			return err
		}
	}
	if err := setUp(t.router, "lo"); err != nil {
		return err
	}
	ipv6 := true
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		ipv6 = false
	}
	for _, side := range []struct {
		ns                         *Namespace
		routerLink                 string
		routerAddr, endpointAddr   netip.Addr
		routerAddr6, endpointAddr6 netip.Addr
	}{
		{t.Client, RouterClientLink, routerClientAddr, clientAddr, routerClientAddr6, clientAddr6},
		{t.Server, RouterServerLink, routerServerAddr, serverAddr, routerServerAddr6, serverAddr6},
	} {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := t.connect(side.ns, side.routerLink, side.routerAddr, side.endpointAddr); err != nil {
			return err
		}
		if ipv6 {
			if err := t.connect6(side.ns, side.routerLink, side.routerAddr6, side.endpointAddr6); err != nil {
				return err
			}
		}
	}
	if ipv6 {
		t.ClientAddr6, t.ServerAddr6 = clientAddr6, serverAddr6
	}
	return t.installTable()
}

// connect makes a veth pair from the router to ns: routerLink in the
// router, endpointLink in ns, a /24 between them and a default route in ns
// via the router.
func (t *Topology) connect(ns *Namespace, routerLink string, routerAddr, endpointAddr netip.Addr) error {
	fd, err := ns.Fd()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: routerLink},
		PeerName:      endpointLink,
		PeerNamespace: netlink.NsFd(fd),
	}
	if err := t.router.LinkAdd(veth); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			return &UnsupportedError{Feature: "veth links (CONFIG_VETH)", Err: err}
		}
		return fmt.Errorf("lab: create veth %s in %s: %w", routerLink, t.Router.Name, err)
	}
	if err := addAddr(t.router, routerLink, routerAddr); err != nil {
		return err
	}
	if err := setUp(t.router, routerLink); err != nil {
		return err
	}
	h, err := netlink.NewHandleAt(netns.NsHandle(fd))
	if err != nil {
		return fmt.Errorf("lab: netlink in %s: %w", ns.Name, err)
	}
	defer h.Close()
	for _, name := range []string{"lo", endpointLink} {
		if err := setUp(h, name); err != nil {
			return err
		}
	}
	if err := addAddr(h, endpointLink, endpointAddr); err != nil {
		return err
	}
	if err := h.RouteAdd(&netlink.Route{Gw: net.IP(routerAddr.AsSlice())}); err != nil {
		return fmt.Errorf("lab: default route via %v in %s: %w", routerAddr, ns.Name, err)
	}
	return nil
}

// connect6 adds IPv6 to a pair connect made: a /64 without duplicate
// address detection (so the addresses work at once) and a default route in
// ns via the router.
func (t *Topology) connect6(ns *Namespace, routerLink string, routerAddr, endpointAddr netip.Addr) error {
	if err := addAddr(t.router, routerLink, routerAddr); err != nil {
		return err
	}
	h, err := ns.netlink()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := addAddr(h, endpointLink, endpointAddr); err != nil {
		return err
	}
	if err := h.RouteAdd(&netlink.Route{Gw: net.IP(routerAddr.AsSlice())}); err != nil {
		return fmt.Errorf("lab: default route via %v in %s: %w", routerAddr, ns.Name, err)
	}
	return nil
}

func setUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("lab: find link %s: %w", name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("lab: set link %s up: %w", name, err)
	}
	return nil
}

func addAddr(h *netlink.Handle, name string, a netip.Addr) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("lab: find link %s: %w", name, err)
	}
	// A /24 for IPv4, a /64 without duplicate address detection for IPv6.
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(24, 32)}}
	if a.Is6() {
		addr.IPNet.Mask = net.CIDRMask(64, 128)
		addr.Flags = unix.IFA_F_NODAD
	}
	prefix := netip.PrefixFrom(a, 24)
	if a.Is6() {
		prefix = netip.PrefixFrom(a, 64)
	}
	if err := h.AddrAdd(l, addr); err != nil {
		return fmt.Errorf("lab: add %v to %s: %w", prefix, name, err)
	}
	return nil
}

// enableForwarding runs inside the router namespace: /proc/sys/net is
// resolved against the opening thread's network namespace.
func enableForwarding() error {
	for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
			if errors.Is(err, os.ErrNotExist) && p != "/proc/sys/net/ipv4/ip_forward" {
				continue // no IPv6 in this kernel
			}
			return fmt.Errorf("lab: enable forwarding: %w", err)
		}
	}
	return nil
}

// keepIPv6Addresses runs inside a namespace before its links exist. IPv6
// drops a link's addresses when it goes down, so that healing LinkDown
// would not bring them back: keep_addr_on_down keeps them, as IPv4 does.
// And duplicate address detection would leave the link-local addresses
// that neighbour discovery needs tentative for a second or two: accept_dad
// 0 makes them usable at once (the lab's links have no one to collide
// with).
func keepIPv6Addresses() error {
	for _, p := range []struct{ path, value string }{
		{"/proc/sys/net/ipv6/conf/all/keep_addr_on_down", "1"},
		{"/proc/sys/net/ipv6/conf/default/keep_addr_on_down", "1"},
		{"/proc/sys/net/ipv6/conf/all/accept_dad", "0"},
		{"/proc/sys/net/ipv6/conf/default/accept_dad", "0"},
	} {
		if err := os.WriteFile(p.path, []byte(p.value+"\n"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("lab: set %s: %w", p.path, err)
		}
	}
	return nil
}

// Close removes the three namespaces, which removes their links and the
// router's nftables table. Processes still running in a namespace keep it
// alive until they exit; the names are gone at once. Close is idempotent.
func (t *Topology) Close() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	if t.router != nil {
		t.router.Close()
	}
	if t.routerNS != nil {
		errs = append(errs, t.routerNS.Close())
	}
	for _, ns := range []*Namespace{t.Client, t.Router, t.Server} {
		if ns != nil {
			errs = append(errs, removeNamespace(ns.Path))
		}
	}
	return errors.Join(errs...)
}

// errClosed is returned by a Topology's methods after Close.
var errClosed = errors.New("lab: topology is closed")

// nft opens an nftables connection in the router namespace. The caller
// holds t.mu.
func (t *Topology) nft() (*nftables.Conn, error) {
	if t.closed || t.routerNS == nil {
		return nil, errClosed
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(t.routerNS.Fd())))
	if err != nil {
		return nil, fmt.Errorf("lab: nftables in router namespace: %w", err)
	}
	return c, nil
}

// Chains of the router's table: faults holds the fault rules (flushed by
// Heal); police holds the ACK policer's jump rules, ackPolice the limit.
const (
	chainFaults    = "faults"
	chainPolice    = "police"
	chainACKPolice = "ack-police"
)

func (t *Topology) table() *nftables.Table {
	return &nftables.Table{Name: tableName, Family: nftables.TableFamilyINet}
}

func (t *Topology) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: t.table()}
}

func (t *Topology) installTable() error {
	c, err := t.nft()
	if err != nil {
		return err
	}
	tab := c.AddTable(t.table())
	accept := nftables.ChainPolicyAccept
	c.AddChain(&nftables.Chain{
		Name: chainPolice, Table: tab, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(-10), Policy: &accept,
	})
	c.AddChain(&nftables.Chain{
		Name: chainFaults, Table: tab, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept,
	})
	c.AddChain(&nftables.Chain{Name: chainACKPolice, Table: tab})
	if err := c.Flush(); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPROTONOSUPPORT) {
			return &UnsupportedError{Feature: "nf_tables with the inet family (CONFIG_NF_TABLES_INET)", Err: err}
		}
		return fmt.Errorf("lab: create nftables table %s: %w", tableName, err)
	}
	return nil
}

// Apply applies f in the router and returns once the kernel has it: the
// fault instant is just before Apply returns. Faults add up until Heal.
func (t *Topology) Apply(f Fault) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch f {
	case Blackhole:
		return t.addFaultRule(f)
	case OneWayOut:
		return t.addFaultRule(f, iifname(RouterClientLink)...)
	case OneWayIn:
		return t.addFaultRule(f, iifname(RouterServerLink)...)
	case MTUBlackhole:
		return t.addFaultRule(f, longerThan(MTULimit)...)
	case LinkDown:
		if t.closed {
			return errClosed
		}
		l, err := t.router.LinkByName(RouterServerLink)
		if err != nil {
			return fmt.Errorf("lab: apply %s: %w", f, err)
		}
		if err := t.router.LinkSetDown(l); err != nil {
			return fmt.Errorf("lab: apply %s: %w", f, err)
		}
		return nil
	default:
		return fmt.Errorf("lab: apply: %w: %q", ErrUnknownFault, f)
	}
}

// ErrUnknownFault is returned by Apply for a fault it does not know.
var ErrUnknownFault = errors.New("unknown fault")

func (t *Topology) addFaultRule(f Fault, match ...expr.Any) error {
	c, err := t.nft()
	if err != nil {
		return err
	}
	exprs := append(match, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
	c.AddRule(&nftables.Rule{Table: t.table(), Chain: t.chain(chainFaults), Exprs: exprs})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("lab: apply %s: %w", f, err)
	}
	return nil
}

// Heal removes every fault: it flushes the fault rules and sets the
// router's link to the server up. The ACK policer stays.
func (t *Topology) Heal() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.nft()
	if err != nil {
		return err
	}
	c.FlushChain(t.chain(chainFaults))
	if err := c.Flush(); err != nil {
		return fmt.Errorf("lab: heal: %w", err)
	}
	l, err := t.router.LinkByName(RouterServerLink)
	if err != nil {
		return fmt.Errorf("lab: heal: %w", err)
	}
	if err := t.router.LinkSetUp(l); err != nil {
		return fmt.Errorf("lab: heal: %w", err)
	}
	return nil
}

// PoliceACKs makes the router drop forwarded IPv4 ACK-only TCP segments
// (flags exactly ACK, no payload: total length = 20 + data offset) above
// perSecond packets per second with a burst of burst packets, in both
// directions. Keepalive probes and their answers are such segments. A
// second call adds a second policer; ClearPolice removes them.
func (t *Topology) PoliceACKs(perSecond, burst uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if perSecond == 0 {
		return errors.New("lab: police ACKs: rate must be at least 1 packet per second")
	}
	c, err := t.nft()
	if err != nil {
		return err
	}
	c.AddRule(&nftables.Rule{Table: t.table(), Chain: t.chain(chainACKPolice), Exprs: []expr.Any{
		&expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(perSecond), Over: true, Unit: expr.LimitTimeSecond, Burst: burst},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}})
	// One jump rule per TCP data offset (5..15 words): nftables compares a
	// register only with constants, so "total length = 20 + 4*doff" is
	// spelled out per doff.
	for doff := 5; doff <= 15; doff++ {
		c.AddRule(&nftables.Rule{Table: t.table(), Chain: t.chain(chainPolice), Exprs: pureACK(doff)})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("lab: police ACKs: %w", err)
	}
	return nil
}

// ClearPolice removes every ACK policer.
func (t *Topology) ClearPolice() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.nft()
	if err != nil {
		return err
	}
	c.FlushChain(t.chain(chainPolice))
	c.FlushChain(t.chain(chainACKPolice))
	if err := c.Flush(); err != nil {
		return fmt.Errorf("lab: clear police: %w", err)
	}
	return nil
}

// PolicedPackets returns how many packets the ACK policer has dropped.
func (t *Topology) PolicedPackets() (uint64, error) {
	return t.counted(chainACKPolice)
}

// FaultDrops returns how many packets the fault rules have dropped since
// the last Heal.
func (t *Topology) FaultDrops() (uint64, error) {
	return t.counted(chainFaults)
}

func (t *Topology) counted(chain string) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.nft()
	if err != nil {
		return 0, err
	}
	rules, err := c.GetRules(t.table(), t.chain(chain))
	if err != nil {
		return 0, fmt.Errorf("lab: read counters of %s: %w", chain, err)
	}
	var n uint64
	for _, r := range rules {
		for _, e := range r.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				n += ctr.Packets
			}
		}
	}
	return n, nil
}

// pureACK matches an IPv4 TCP segment without IP options, with data offset
// doff words, flags exactly ACK and no payload, and jumps to the policer.
func pureACK(doff int) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		// version 4, header length 5 words
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x45}},
		// total length = 20 + 4*doff
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, uint16(20+4*doff))},
		// data offset
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 12, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0xf0}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(doff << 4)}},
		// flags FIN SYN RST PSH ACK URG: exactly ACK
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x3f}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x10}},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: chainACKPolice},
	}
}

// iifname matches the input interface by name.
func iifname(name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}
