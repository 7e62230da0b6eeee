// Package lab measures, on real kernel TCP, how long a connection takes to
// notice that its peer is gone, and compares that with what its settings
// promise.
//
// # Topology
//
// A Topology is three network namespaces, client <-> router <-> server,
// joined by veth pairs, with addresses from 198.18.0.0/15. Faults
// (Blackhole, OneWayOut, OneWayIn, LinkDown) are applied in the router with
// nftables and link state, so the endpoints see nothing but loss on the
// wire, and nothing touches the host's own network. PoliceACKs adds a
// policer for ACK-only segments (keepalive probes and their answers). Every
// namespace and nftables table the lab makes is named with Prefix and the
// creating PID; New sweeps those of dead processes first, and Close removes
// a topology's own. The topology itself lives in internal/topology, so that
// other packages' tests build it (testutil.Topology) without the lab; these
// names are aliases of it.
//
// # Matrix
//
// Run measures cells: a Workload (idle, sending, receiving, replication,
// zero-window, connect) × a Fault (the router's, plus PeerFrozen,
// PeerPaused, PeerReboot, Reset and Blip, which act on the server process or
// are timed sequences) × a configuration (Go's default dialer, keepalive
// only, keepalive plus TCP_USER_TIMEOUT, flatline, and FlatlineHeartbeat:
// flatline plus a liveness.Monitor on a second connection, for the
// workloads of a link that is up), and flatline applied by enforce
// (Enforced: Go's zero dialer in a helper process inside a cgroup under
// enforce) and by apply (Applied: the same helper outside it, fixed
// mid-life by enforce.Apply, the code of `flatline apply`). Each cell gets its own
// topology and a server endpoint process (a re-executed program that calls
// RunEndpoint), so freezing and killing the peer are real. The client side
// runs in the measuring process, in the client namespace; the time from the
// fault to the application's first error is compared with the bound the
// configuration's settings promise (flatline.Config.Plan for flatline,
// flatline.Settings.Bounds for the others), and flatline.Diagnose names the
// cause.
//
// Results are data first (Result, CellResult, WriteJSON); WriteTable (its
// first table, "The lesson at a glance", is the original story in three
// rows) and WriteChart (an SVG) render the same data for people.
//
// # Storms
//
// RunStorm opens many idle connections at once through a router that
// polices ACK-only segments and compares keepalive strategies (the storm
// package's model and planner) by how many connections the kernel falsely
// declares dead; WriteStormChart draws the router's capture.
//
// # Soaks
//
// RunSoak holds many healthy connections per configuration × workload
// (SoakIdle, SoakTrickle) × Loss at once, each group's server and client in
// processes of their own, through a router that drops each group's
// packets at random (Topology.RandomLossOnPorts: nftables numgen, no
// netem), and counts the connections the client saw fail: false kills,
// beside the false-kill model's expectation and its Poisson interval;
// WriteSoakTable and WriteSoakChart render them. ParseLoss reads "1%".
//
// Creating namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and
// Linux; elsewhere, or without root, the functions return an error matching
// ErrNotSupported.
package lab
