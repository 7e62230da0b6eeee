// Package pgxflat wires pgx (github.com/jackc/pgx/v5) with flatline: every
// connection, of a single pgx.Conn or of a pgxpool.Pool, dials through
// flatline.Dialer, so a query waiting on a dead server, or sent on a pooled
// connection into a cut path, fails within the Config's Timeout.
//
// pgx does not retry a failed query on a new connection, so the connection's
// bound is the query's. A frozen server is a different matter: its kernel
// keeps the connection alive, and a query waits for as long as its context
// allows; give the context a deadline.
package pgxflat

import (
	"github.com/flatline-dev/flatline"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ConnConfig parses a connection string and dials with flatline's settings
// for cfg: pgx.ConnectConfig(ctx, c).
func ConnConfig(connString string, cfg flatline.Config) (*pgx.ConnConfig, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	d := &flatline.Dialer{Config: cfg}
	c.DialFunc = d.DialContext
	return c, nil
}

// PoolConfig is ConnConfig for a pool: pgxpool.NewWithConfig(ctx, c).
func PoolConfig(connString string, cfg flatline.Config) (*pgxpool.Config, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	d := &flatline.Dialer{Config: cfg}
	c.ConnConfig.DialFunc = d.DialContext
	return c, nil
}
