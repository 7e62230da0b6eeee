// Package pgxflat adds flatline to pgx (github.com/jackc/pgx/v5): every
// connection, of a single pgx.Conn or of a pgxpool.Pool, gets flatline's
// socket settings, so a query waiting on a dead server, or sent on a
// pooled connection into a cut path, fails within the Config's Timeout;
// its end is recorded, and Err attaches the cause to pgx's error.
//
// # What pgx says, and what Err adds
//
// pgx hides why a connection died. Measured against PostgreSQL 15 through
// a partition, T = 3 s (TestIntegrationPartition):
//
//   - Exec (and CopyFrom) on a connection the kernel ended fail with
//     "unexpected EOF" style errors (pgconn's "failed to receive message:
//     unexpected EOF"): flatline.Diagnose of that alone says unknown.
//   - QueryRow(...).Scan fails with "timeout: read tcp ...: connection
//     timed out" (pgx takes the kernel's ETIMEDOUT for a timeout):
//     Diagnose of that alone says kernel-timeout, not which timer.
//
// Err(conn, err) returns a *flatline.CauseError wrapping pgx's error with
// the cause recorded from the socket while it was open (unacked-data,
// keepalive, ...): Diagnose and errors.As both see it, and errors.Is still
// finds pgx's own errors.
//
// pgx does not retry a failed query on a new connection, so the
// connection's bound is the query's. A frozen server is a different
// matter: its kernel keeps the connection alive, and a query waits for as
// long as its context allows; give the context a deadline.
package pgxflat

import (
	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/redial"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Configure adds flatline's settings for cfg to c, a configuration the
// caller parsed (pgx.ParseConfig) and may have changed: its TLS, timeouts,
// runtime parameters and lookup stay as they are. c.DialFunc (pgx's
// default dialer, or the caller's own) still dials, within the Timeout;
// flatline.Configure then sets the options on its connection, which must
// be a *net.TCPConn (anything else fails the connect with a
// *redial.DialError). rec, if not nil, records every connection's end.
// The returned Dialer is the one now in c.DialFunc.
func Configure(c *pgx.ConnConfig, cfg flatline.Config, rec *flatline.Recorder) (*redial.Dialer, error) {
	d, err := redial.New(cfg, redial.Options{Recorder: rec, Dial: redial.DialFunc(c.DialFunc)})
	if err != nil {
		return nil, err
	}
	c.DialFunc = d.DialContext
	return d, nil
}

// ConfigurePool is Configure for a pool's connection configuration.
func ConfigurePool(c *pgxpool.Config, cfg flatline.Config, rec *flatline.Recorder) (*redial.Dialer, error) {
	return Configure(c.ConnConfig, cfg, rec)
}

// Err returns err with the cause of conn's end attached (a
// *flatline.CauseError wrapping err) when conn was dialed through
// Configure and has ended; err itself otherwise. For a pool connection,
// pass (*pgxpool.Conn).Conn().
func Err(conn *pgx.Conn, err error) error {
	if conn == nil || err == nil {
		return err
	}
	return redial.Explain(conn.PgConn().Conn(), err)
}
