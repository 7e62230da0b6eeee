package pgxflat_test

import (
	"context"
	"log"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/pgxflat"
	"github.com/jackc/pgx/v5"
)

// A connection whose dead server is noticed within 10 s, and the cause pgx
// hides attached to its error.
func ExampleConfigure() {
	ctx := context.Background()
	cfg, err := pgx.ParseConfig("postgres://app@db.internal:5432/app?sslmode=verify-full")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := pgxflat.Configure(cfg, flatline.Config{Timeout: 10 * time.Second}, nil); err != nil {
		log.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		err = pgxflat.Err(conn, err)           // pgx says "unexpected EOF"
		log.Print(flatline.Diagnose(nil, err)) // unacked-data, keepalive, ...
	}
}
