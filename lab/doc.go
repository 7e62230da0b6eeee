// Package lab measures, on real kernel TCP, how long a connection takes to
// notice that its peer is gone, and compares that with what its settings
// promise.
//
// A Topology is three network namespaces, client <-> router <-> server,
// joined by veth pairs. Faults (Blackhole, OneWayOut, OneWayIn, LinkDown)
// are applied in the router with nftables and link state, so the endpoints
// see nothing but loss on the wire, and nothing touches the host's own
// network. Every namespace and nftables table the lab makes is named with
// Prefix and the creating PID; New sweeps those of dead processes first, and
// Close removes a topology's own.
//
// Creating namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and
// Linux; elsewhere the functions return an error matching ErrNotSupported.
package lab
