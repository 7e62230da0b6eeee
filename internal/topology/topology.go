package topology

import (
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
)

// Addresses inside every topology, from 198.18.0.0/15 (RFC 2544) and
// 2001:2::/48 (RFC 5180), the benchmarking ranges: traffic to them never
// means anything outside the lab.
var (
	clientAddr        = netip.MustParseAddr("198.18.1.2")
	routerClientAddr  = netip.MustParseAddr("198.18.1.1")
	routerServerAddr  = netip.MustParseAddr("198.18.2.1")
	serverAddr        = netip.MustParseAddr("198.18.2.2")
	clientAddr6       = netip.MustParseAddr("2001:2:0:1::2")
	routerClientAddr6 = netip.MustParseAddr("2001:2:0:1::1")
	routerServerAddr6 = netip.MustParseAddr("2001:2:0:2::1")
	serverAddr6       = netip.MustParseAddr("2001:2:0:2::2")
)

// Link names: the router's ends of the two veth pairs (a capture on
// RouterClientLink sees the client's packets before any fault drops them),
// and the endpoints' end (the same name in the client and in the server
// namespace).
const (
	RouterClientLink = "cli"
	RouterServerLink = "srv"
	endpointLink     = "eth0"
)

// tableName is the nftables table (family inet) in the router namespace.
const tableName = Prefix + "lab"

// Topology is client <-> router <-> server: three network namespaces joined
// by two veth pairs, forwarding on in the router, IPv4 addresses from
// 198.18.0.0/15 and default routes via the router. Faults are applied in
// the router (nftables forward chain, link state), so the endpoints see
// pure loss on the wire.
type Topology struct {
	Client, Router, Server *Namespace
	ClientAddr, ServerAddr netip.Addr // the endpoints' IPv4 addresses
	// The endpoints' IPv6 addresses; invalid (the zero Addr) when the
	// kernel has no IPv6.
	ClientAddr6, ServerAddr6 netip.Addr

	id string // "<pid>-<random>", shared by the three names

	mu       sync.Mutex      // serializes faults, healing and Close: timers heal from other goroutines
	routerNS *os.File        // kept open: netlink and nftables handles use it
	router   *netlink.Handle // netlink in the router namespace
	closed   bool
}

// Fault is a network fault the router can apply at a known instant.
type Fault string

// Faults applied by Topology.Apply.
const (
	Blackhole Fault = "blackhole"   // drop everything both ways: a partition
	OneWayOut Fault = "one-way-out" // drop client -> server
	OneWayIn  Fault = "one-way-in"  // drop server -> client
	LinkDown  Fault = "link-down"   // the router's link to the server is down
	// MTUBlackhole drops packets longer than MTULimit bytes at the fault
	// (an MTU black hole: a tunnel whose ICMP "fragmentation needed"
	// never arrives). Keepalive probes are small and pass.
	MTUBlackhole Fault = "mtu-blackhole"
)

// MTULimit is the longest packet MTUBlackhole lets through, in bytes.
const MTULimit = 1000

// Shaping is what netem does to each direction of the path (Shape).
type Shaping struct {
	Delay, Jitter time.Duration // one way: half the round trip
	RateBytes     uint64        // bytes per second, 0: no limit
}

// Faults lists the faults Topology.Apply knows.
func Faults() []Fault { return []Fault{Blackhole, OneWayOut, OneWayIn, LinkDown} }
