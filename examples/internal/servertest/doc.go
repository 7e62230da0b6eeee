// Package servertest starts real servers (PostgreSQL, redis-server from the
// distribution's packages) in a lab topology's server namespace for the
// examples' tests, and removes everything when the test ends. Linux only.
package servertest
