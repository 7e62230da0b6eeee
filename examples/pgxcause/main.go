// Command pgxcause shows how to learn why a PostgreSQL connection died when
// pgx hides it: pgx reports "unexpected EOF" for an Exec, or "timeout: ..."
// for a QueryRow, on a connection the kernel ended, and closes the
// connection before returning. pgxflat records the end from the socket as
// it happens, and pgxflat.Err attaches it to pgx's error.
//
//	pgxcause -dsn 'postgres://user@db.internal:5432/app' -timeout 10s
//
// It runs `SELECT 1` every second and, when a query fails, prints pgx's
// error beside the cause the kernel gave.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/pgxflat"
	"github.com/jackc/pgx/v5"
)

// Config parses dsn and adds flatline's settings for timeout, the ends
// recorded by rec (nil: pgxflat's own recording only).
func Config(dsn string, timeout time.Duration, rec *flatline.Recorder) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if _, err := pgxflat.Configure(cfg, flatline.Config{Timeout: timeout}, rec); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Why returns pgx's error err with the cause of conn's end, as the kernel
// gave it, or "still open".
func Why(conn *pgx.Conn, err error) string {
	if err == nil {
		if conn.IsClosed() {
			return "closed"
		}
		return "still open"
	}
	err = pgxflat.Err(conn, err)
	return fmt.Sprintf("%v (flatline.Diagnose: %v)", err, flatline.Diagnose(nil, err))
}

func main() {
	dsn := flag.String("dsn", os.Getenv("DATABASE_URL"), "PostgreSQL connection string")
	timeout := flag.Duration("timeout", 10*time.Second, "longest a dead server may go unnoticed")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	cfg, err := Config(*dsn, *timeout, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "config:", err)
		os.Exit(2)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	defer conn.Close(context.Background())
	for {
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			if ctx.Err() != nil {
				return
			}
			fmt.Printf("pgx says: %v\nthe kernel says: %s\n", err, Why(conn, err))
			os.Exit(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}
