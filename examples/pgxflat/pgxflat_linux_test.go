package pgxflat

import (
	"context"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/examples/internal/servertest"
	"github.com/flatline-dev/flatline/lab"
	"github.com/jackc/pgx/v5"
)

const (
	timeout = 3 * time.Second
	// slack is what the test allows beyond T for the kernel's timers and
	// the Go scheduler on a loaded 2-core machine.
	slack = 500 * time.Millisecond
)

// TestIntegrationPartition: PostgreSQL in the server namespace, pgx in the
// client namespace, every packet dropped in the router: a query waiting on
// the server (pg_sleep: our side idle, keepalive decides) and a query sent
// on an idle connection after the cut (unacknowledged data, the user
// timeout decides) both fail within T.
func TestIntegrationPartition(t *testing.T) {
	for _, tt := range []struct {
		name     string
		inFlight bool
	}{
		{"query waiting", true},
		{"query after the cut", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			topo := servertest.Topology(t)
			dsn := servertest.Postgres(t, topo)
			cfg, err := ConnConfig(dsn, flatline.Config{Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			cfg.DialFunc = servertest.InClient(topo, cfg.DialFunc)
			ctx := context.Background()
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}

			failed := make(chan error, 1)
			if tt.inFlight {
				watch, err := pgx.ConnectConfig(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer watch.Close(ctx)
				go func() {
					_, err := conn.Exec(ctx, "SELECT pg_sleep(600)")
					failed <- err
				}()
				// Wait, bounded, until the server runs the query.
				deadline := time.Now().Add(10 * time.Second)
				for {
					var n int
					if err := watch.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(600)%' AND state = 'active'").Scan(&n); err != nil {
						t.Fatal(err)
					}
					if n > 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("the query did not start within 10s")
					}
				}
			}
			if err := topo.Apply(lab.Blackhole); err != nil {
				t.Fatal(err)
			}
			cut := time.Now()
			if !tt.inFlight {
				go func() {
					_, err := conn.Exec(ctx, "SELECT 1")
					failed <- err
				}()
			}
			var qerr error
			select {
			case qerr = <-failed:
			case <-time.After(3 * timeout):
				t.Fatalf("query still waiting %v after the cut", 3*timeout)
			}
			took := time.Since(cut)
			if qerr == nil {
				t.Fatal("query through a cut path succeeded")
			}
			if took > timeout+slack {
				t.Errorf("query failed %v after the cut, bound T = %v (+%v)", took, timeout, slack)
			}
			t.Logf("query failed %v after the cut (T %v): %v", took, timeout, qerr)
		})
	}
}
