// Package redisflat wires go-redis (github.com/redis/go-redis/v9) with
// flatline: connections dial through a redial.Dialer (flatline's settings,
// and a retry after a dead-peer death gets only what is left of the
// Timeout), so a blocked command (BLPOP with no timeout) or a command on a
// pooled connection into a cut path fails within the Config's Timeout.
//
// go-redis retries a command on a new connection after a network error
// (MaxRetries, 3 by default), dial errors included, and its pool retries a
// failed dial (DialerRetries, 5 attempts 100 ms apart by default); with a
// plain dialer a retry into the same dead path restarts the clock. Options
// keeps the command retries (a redial.Dialer bounds them) and makes the pool
// dial once: a second dial into a peer that redial already knows is silent
// only adds its backoff (measured: 0.5 s). Its ReadTimeout and
// WriteTimeout (3 s by default) are per-command deadlines: set them to how
// long a command may take, not as a dead-peer detector; blocking commands
// run without them.
package redisflat

import (
	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/examples/redial"
	"github.com/redis/go-redis/v9"
)

// Options returns go-redis options for the server at addr with flatline's
// settings for cfg: redis.NewClient(o).
func Options(addr string, cfg flatline.Config) (*redis.Options, error) {
	d, err := redial.New(cfg)
	if err != nil {
		return nil, err
	}
	p, _ := cfg.Plan()
	return &redis.Options{Addr: addr, Dialer: d.DialContext, DialTimeout: p.Timeout, DialerRetries: 1}, nil
}
