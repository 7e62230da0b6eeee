// Package netlab is a test fixture for code that uses flatline's drivers:
// client <-> router <-> server network namespaces with a partition in the
// router, and real servers (PostgreSQL, redis-server) started in the
// server namespace. Linux only, root only; it skips the test without them.
// It is for tests (every entry point takes a testing.TB), not for programs.
//
// The drivers' tests and the examples' use it. The flatline module's own
// namespace fixture is in its internal/, which other modules cannot
// import; exporting that would make the core's test helper part of its
// API, so this smaller one lives here, beside the packages it tests. Its
// namespaces are anonymous (never bind-mounted), so they vanish with the
// test process, and its servers die with it too (Pdeathsig): nothing needs
// sweeping.
package netlab
