package pgxflat

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/netlab"
	"github.com/jackc/pgx/v5"
)

const (
	timeout = 3 * time.Second
	// slack is what the test allows beyond T for the kernel's timers and
	// the Go scheduler on a loaded 2-core machine.
	slack = 500 * time.Millisecond
)

// TestIntegrationPartition: PostgreSQL in the server namespace, pgx in the
// client namespace, every packet dropped in the router. A query waiting on
// the server (pg_sleep: our side idle, keepalive decides), an Exec, a
// QueryRow and a COPY sent after the cut (unacknowledged data, the user
// timeout decides) all fail within T, and Err names a cause where pgx's
// error alone does not.
func TestIntegrationPartition(t *testing.T) {
	for _, tt := range []struct {
		name string
		op   func(ctx context.Context, c *pgx.Conn) error
		busy bool // waits on the server from before the cut
	}{
		{"Exec waiting", func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "SELECT pg_sleep(600)")
			return err
		}, true},
		{"Exec after the cut", func(ctx context.Context, c *pgx.Conn) error { _, err := c.Exec(ctx, "SELECT 1"); return err }, false},
		{"QueryRow after the cut", func(ctx context.Context, c *pgx.Conn) error {
			var n int
			return c.QueryRow(ctx, "SELECT 1").Scan(&n)
		}, false},
		{"CopyFrom after the cut", func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"n"}, pgx.CopyFromRows([][]any{{1}, {2}}))
			return err
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			topo := netlab.New(t)
			dsn := topo.Postgres(t)
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				t.Fatal(err)
			}
			cfg.RuntimeParams["application_name"] = "pgxflat-test" // the user's own settings stay
			rec := &flatline.Recorder{}
			if _, err := Configure(cfg, flatline.Config{Timeout: timeout}, rec); err != nil {
				t.Fatal(err)
			}
			cfg.DialFunc = topo.Dial(cfg.DialFunc)
			ctx := context.Background()
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			var app string
			if err := conn.QueryRow(ctx, "SHOW application_name").Scan(&app); err != nil || app != "pgxflat-test" {
				t.Fatalf("application_name = %q, %v: the user's configuration was not kept", app, err)
			}
			if _, err := conn.Exec(ctx, "CREATE TABLE t (n int)"); err != nil {
				t.Fatal(err)
			}
			failed := make(chan error, 1)
			if tt.busy {
				go func() { failed <- tt.op(ctx, conn) }()
				waitActive(t, cfg, "SELECT pg_sleep(600)")
			}
			if err := topo.Partition(); err != nil {
				t.Fatal(err)
			}
			cut := time.Now()
			if !tt.busy {
				go func() { failed <- tt.op(ctx, conn) }()
			}
			var qerr error
			select {
			case qerr = <-failed:
			case <-time.After(3 * timeout):
				t.Fatalf("still waiting %v after the cut", 3*timeout)
			}
			took := time.Since(cut)
			if qerr == nil {
				t.Fatal("a query through a cut path succeeded")
			}
			if took > timeout+slack {
				t.Errorf("failed %v after the cut, bound T = %v (+%v)", took, timeout, slack)
			}
			explained := Err(conn, qerr)
			cause := flatline.Diagnose(nil, explained)
			var ce *flatline.CauseError
			if !cause.DeadPeer() || !errors.As(explained, &ce) {
				t.Errorf("Err(%v) = %v: cause %v, want a dead-peer cause in a *flatline.CauseError", qerr, explained, cause)
			}
			t.Logf("failed %v after the cut (T %v): pgx says %q (Diagnose alone: %v); Err says %v",
				took.Round(time.Millisecond), timeout, qerr, flatline.Diagnose(nil, qerr), cause)
		})
	}
}

// waitActive waits, bounded, until the server runs query.
func waitActive(t *testing.T, cfg *pgx.ConnConfig, query string) {
	t.Helper()
	ctx := context.Background()
	watch, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := watch.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'", query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q did not start within 10s", query)
		}
	}
}
