// Command pgxcause shows how to learn why a PostgreSQL connection died when
// pgx hides it: pgx reports "unexpected EOF" (or a timeout it takes for its
// own deadline) for a connection the kernel ended, and closes the
// connection before returning. A flatline.Recorder wired in as pgx's
// DialFunc records the end as it happens, from the socket, and answers
// afterwards.
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
	"github.com/jackc/pgx/v5"
)

// Connect opens a pgx connection whose dead peer is noticed within
// timeout, its end recorded by rec.
func Connect(ctx context.Context, dsn string, timeout time.Duration, rec *flatline.Recorder) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.DialFunc = rec.DialContext(&flatline.Dialer{Config: flatline.Config{Timeout: timeout}})
	return pgx.ConnectConfig(ctx, cfg)
}

// Why returns the cause of conn's end as rec recorded it, or "still open"
// or "not recorded".
func Why(rec *flatline.Recorder, conn *pgx.Conn) string {
	nc := conn.PgConn().Conn() // the net.Conn pgx was given, even after it closed it
	if e, ok := rec.Of(nc); ok {
		s := e.Cause.String()
		if e.Err != nil {
			s += " (" + e.Err.Error() + ")"
		}
		return s
	}
	if !conn.IsClosed() {
		return "still open"
	}
	return "not recorded"
}

func main() {
	dsn := flag.String("dsn", os.Getenv("DATABASE_URL"), "PostgreSQL connection string")
	timeout := flag.Duration("timeout", 10*time.Second, "longest a dead server may go unnoticed")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	rec := &flatline.Recorder{}
	conn, err := Connect(ctx, *dsn, *timeout, rec)
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
			fmt.Printf("pgx says: %v\nthe kernel says: %s\n", err, Why(rec, conn))
			os.Exit(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}
