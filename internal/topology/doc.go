// Package topology builds the network the lab and the tests of every
// package measure in: client <-> router <-> server, three network
// namespaces joined by veth pairs, forwarding on in the router, and faults
// applied in the router (nftables forward chain, link state, netem), so
// the endpoints see pure loss on the wire and nothing touches the host's
// own network. Every name it makes starts with Prefix; a sweep removes
// those of dead processes.
//
// It is internal: the lab re-exports it (lab.Topology, lab.New), and tests
// build one with testutil.Topology without importing the lab (and its
// charts).
package topology
