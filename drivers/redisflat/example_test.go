package redisflat_test

import (
	"context"
	"crypto/tls"
	"log"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/redisflat"
	"github.com/redis/go-redis/v9"
)

// A client over TLS whose dead server is noticed within 5 s: the caller's
// options kept, TLS done by redisflat (a server without TLS is refused),
// causes on command errors.
func ExampleOptions() {
	o, d, err := redisflat.Options(&redis.Options{Addr: "cache.internal:6380", PoolSize: 20, TLSConfig: &tls.Config{}},
		flatline.Config{Timeout: 5 * time.Second}, nil)
	if err != nil {
		log.Fatal(err)
	}
	rdb := redis.NewClient(o)
	defer rdb.Close()
	rdb.AddHook(redisflat.Hook(d))
	if err := rdb.Get(context.Background(), "key").Err(); err != nil && err != redis.Nil {
		log.Print(flatline.Diagnose(nil, err))
	}
}
