package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/netlab"
	"github.com/flatline-dev/flatline/drivers/pgxflat"
	"github.com/jackc/pgx/v5"
)

// TestIntegrationPgxCause: a real PostgreSQL behind a router, the network
// cut during a query. pgx's error does not say why; pgxflat.Err does, and
// a Recorder given to Config is told too.
func TestIntegrationPgxCause(t *testing.T) {
	topo := netlab.New(t)
	dsn := topo.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	ends := make(chan flatline.End, 4)
	rec := &flatline.Recorder{OnEnd: func(e flatline.End) { ends <- e }}
	cfg, err := Config(dsn, 3*time.Second, rec)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DialFunc = topo.Dial(cfg.DialFunc)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	if got := Why(conn, nil); got != "still open" {
		t.Errorf("healthy connection: %s", got)
	}

	if err := topo.Partition(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	if err == nil {
		t.Fatal("query through a cut network succeeded")
	}
	t.Logf("after %v pgx says %q (flatline.Diagnose: %v); with pgxflat.Err: %s",
		time.Since(start).Round(time.Millisecond), err, flatline.Diagnose(nil, err), Why(conn, err))
	var ce *flatline.CauseError
	if !errors.As(pgxflat.Err(conn, err), &ce) || ce.Cause != flatline.CauseUnacked {
		t.Errorf("pgxflat.Err = %v, want unacked-data: the query was sent and never acknowledged", pgxflat.Err(conn, err))
	}
	select {
	case e := <-ends:
		if e.Cause != flatline.CauseUnacked {
			t.Errorf("the Recorder was told %v, want unacked-data", e.Cause)
		}
	default:
		t.Error("the Recorder was not told")
	}
}
