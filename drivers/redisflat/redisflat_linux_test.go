package redisflat

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/netlab"
	"github.com/redis/go-redis/v9"
)

const (
	timeout = 3 * time.Second
	// slack is what the test allows beyond T for the kernel's timers, the
	// Go scheduler on a loaded 2-core machine and go-redis's command retry
	// backoff (8 ms, then doubling).
	slack = 500 * time.Millisecond
)

// TestIntegrationPartition: redis-server in the server namespace (in
// plaintext and with TLS only), go-redis in the client namespace, every
// packet dropped in the router: a BLPOP waiting with no timeout (keepalive
// decides) and a GET on a pooled connection after the cut (unacknowledged
// data, then go-redis's retries) fail within T, and the Hook attaches a
// dead-peer cause. go-redis's own read and write deadlines are off, so
// only flatline decides; the user's other options (ClientName, DB) stay.
func TestIntegrationPartition(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		for _, blocking := range []bool{true, false} {
			name := map[bool]string{true: "BLPOP waiting", false: "GET after the cut"}[blocking]
			if tlsOn {
				name += " TLS"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				partition(t, tlsOn, blocking)
			})
		}
	}
}

func partition(t *testing.T, tlsOn, blocking bool) {
	topo := netlab.New(t)
	addr, pool := topo.Redis(t, tlsOn)
	user := &redis.Options{Addr: addr, ClientName: "flatline-test", ReadTimeout: -1, WriteTimeout: -1, PoolSize: 1}
	if tlsOn {
		user.TLSConfig = &tls.Config{RootCAs: pool}
	}
	o, d, err := Options(user, flatline.Config{Timeout: timeout}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.ClientName != "flatline-test" || o.PoolSize != 1 || o.TLSConfig != user.TLSConfig {
		t.Fatalf("Options dropped the user's settings: %+v", o)
	}
	o.Dialer = topo.Dial(o.Dialer)
	c := redis.NewClient(o)
	defer c.Close()
	c.AddHook(Hook(d))
	ctx := context.Background()
	if err := c.Set(ctx, "key", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if name, err := c.ClientGetName(ctx).Result(); err != nil || name != "flatline-test" {
		t.Fatalf("CLIENT GETNAME = %q, %v", name, err)
	}
	cmds := map[bool]func() error{
		true:  func() error { return c.BLPop(ctx, 0, "queue").Err() },
		false: func() error { return c.Get(ctx, "key").Err() },
	}
	failed := make(chan error, 1)
	if blocking {
		go func() { failed <- cmds[true]() }()
		other := redis.NewClient(&redis.Options{Addr: addr, Dialer: o.Dialer, TLSConfig: o.TLSConfig})
		defer other.Close()
		waitBlocked(t, other)
	}
	if err := topo.Partition(); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	if !blocking {
		go func() { failed <- cmds[false]() }()
	}
	var cerr error
	select {
	case cerr = <-failed:
	case <-time.After(3 * timeout):
		t.Fatalf("command still waiting %v after the cut", 3*timeout)
	}
	took := time.Since(cut)
	if cerr == nil {
		t.Fatal("command through a cut path succeeded")
	}
	if took > timeout+slack {
		t.Errorf("command failed %v after the cut, bound T = %v (+%v)", took, timeout, slack)
	}
	cause := flatline.Diagnose(nil, cerr)
	var ce *flatline.CauseError
	if !cause.DeadPeer() || !errors.As(cerr, &ce) {
		t.Errorf("%v: cause %v, want a dead-peer cause in a *flatline.CauseError", cerr, cause)
	}
	t.Logf("command failed %v after the cut (T %v): %v (cause %v)", took.Round(time.Millisecond), timeout, cerr, cause)
}

// waitBlocked waits, bounded, until the server has a client blocked.
func waitBlocked(t *testing.T, other *redis.Client) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := other.Info(context.Background(), "clients").Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(info, "blocked_clients:1") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("BLPOP not blocked within 10s")
		}
	}
}

// TestIntegrationTLSRefusesPlaintext: with TLSConfig set, a server without
// TLS is refused (a *TLSError), never spoken to in plaintext; with TLS it
// works.
func TestIntegrationTLSRefusesPlaintext(t *testing.T) {
	topo := netlab.New(t)
	plain, _ := topo.Redis(t, false)
	o, _, err := Options(&redis.Options{Addr: plain, TLSConfig: &tls.Config{InsecureSkipVerify: true}, MaxRetries: -1}, flatline.Config{Timeout: timeout}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Dialer = topo.Dial(o.Dialer)
	c := redis.NewClient(o)
	defer c.Close()
	err = c.Ping(context.Background()).Err()
	var te *TLSError
	if !errors.As(err, &te) {
		t.Fatalf("PING a plaintext server with TLSConfig set: %v, want a *TLSError", err)
	}
	t.Logf("refused: %v", err)
}
