package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// replicaEnv makes the test binary a replica process ("address timeout"),
// so that the tests can freeze and kill a real one.
const replicaEnv = "REPLICATION_TEST_REPLICA"

func TestMain(m *testing.M) {
	if spec := os.Getenv(replicaEnv); spec != "" {
		f := strings.Fields(spec)
		t, err := time.ParseDuration(f[len(f)-1])
		if len(f) != 2 || err != nil {
			fmt.Fprintf(os.Stderr, "bad %s %q\n", replicaEnv, spec)
			os.Exit(2)
		}
		runReplica(context.Background(), f[0], Config{Timeout: t}, os.Stdout)
		os.Exit(0)
	}
	os.Exit(m.Run())
}
