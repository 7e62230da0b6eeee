// Package netlab is the drivers' test fixture: client <-> router <-> server
// network namespaces with a partition in the router, and real servers
// (PostgreSQL, redis-server) started in the server namespace. Linux only,
// root only; tests skip without them.
//
// The flatline module's own namespace fixture is in its internal/, which
// this module cannot import, and exporting it would make a test helper
// part of flatline's API. This one is smaller: its namespaces are not
// bind-mounted anywhere, so they vanish with the test process (its
// servers die with it too, Pdeathsig), and nothing needs sweeping.
package netlab
