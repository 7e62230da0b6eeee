package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/examples/internal/servertest"
	"github.com/flatline-dev/flatline/lab"
	"github.com/jackc/pgx/v5"
)

// TestIntegrationPgxCause: a real PostgreSQL behind the lab's router, the
// network cut during a query. pgx's error does not say why; the Recorder
// does.
func TestIntegrationPgxCause(t *testing.T) {
	top := servertest.Topology(t)
	dsn := servertest.Postgres(t, top)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	rec := &flatline.Recorder{}
	var conn *pgx.Conn
	if err := top.Client.Do(func() error {
		var err error
		conn, err = Connect(ctx, dsn, 3*time.Second, rec)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	if got := Why(rec, conn); got != "still open" {
		t.Errorf("healthy connection: %s", got)
	}

	if err := top.Apply(lab.Blackhole); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	if err == nil {
		t.Fatal("query through a cut network succeeded")
	}
	why := Why(rec, conn)
	t.Logf("after %v pgx says %q (flatline.Diagnose: %v); the Recorder says %s",
		time.Since(start).Round(time.Millisecond), err, flatline.Diagnose(nil, err), why)
	if !strings.HasPrefix(why, flatline.CauseUnacked.String()) {
		t.Errorf("Recorder says %q, want %s: the query was sent and never acknowledged", why, flatline.CauseUnacked)
	}
}
