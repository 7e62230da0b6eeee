package lab

import (
	"context"

	"github.com/flatline-dev/flatline/internal/topology"
)

// The lab's network: client <-> router <-> server namespaces with faults in
// the router. The fixture itself lives in internal/topology so that the
// tests of every package can build one without importing lab; these names
// are the same types, for the lab's users.
type (
	// Topology is client <-> router <-> server: three network namespaces
	// joined by two veth pairs, faults applied in the router.
	Topology = topology.Topology
	// Namespace is a named network namespace made by the lab.
	Namespace = topology.Namespace
	// Fault is a network fault the router can apply at a known instant.
	Fault = topology.Fault
	// UnsupportedError says which feature or privilege is missing; it
	// matches ErrNotSupported and flatline.ErrNotSupported.
	UnsupportedError = topology.UnsupportedError
)

// Faults applied by Topology.Apply.
const (
	Blackhole = topology.Blackhole // drop everything both ways: a partition
	OneWayOut = topology.OneWayOut // drop client -> server
	OneWayIn  = topology.OneWayIn  // drop server -> client
	LinkDown  = topology.LinkDown  // the router's link to the server is down
)

// Prefix starts the name of every network namespace, nftables table and
// cgroup the lab makes; NetnsDir is where the namespaces are bind-mounted.
const (
	Prefix   = topology.Prefix
	NetnsDir = topology.NetnsDir
)

// Loss is a random loss rate each way, in packets per thousand
// (Topology.RandomLoss); LossScale is its modulus.
type Loss = topology.Loss

// LossScale is the modulus of the router's random numbers.
const LossScale = topology.LossScale

// ParseLoss reads a loss rate written as a percentage ("1%", "0.5%") or a
// fraction ("0.01").
func ParseLoss(s string) (Loss, error) { return topology.ParseLoss(s) }

// ErrNotSupported is returned where the lab cannot run: a platform without
// network namespaces, or a process without the privilege to make them.
var ErrNotSupported = topology.ErrNotSupported

// New sweeps stale lab namespaces, then builds a fresh topology
// (topology.New).
func New(ctx context.Context) (*Topology, error) { return topology.New(ctx) }

// Sweep removes lab namespaces whose creating process is gone and returns
// their names.
func Sweep() ([]string, error) { return topology.Sweep() }

// Faults lists the faults Topology.Apply knows.
func Faults() []Fault { return topology.Faults() }
