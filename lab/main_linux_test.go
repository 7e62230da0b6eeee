package lab

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestMain lets the test binary serve as the lab's server endpoint (Run
// re-executes it with EndpointEnv set) and as a storm's connection holder
// (RunStorm, with StormHolderEnv).
func TestMain(m *testing.M) {
	if os.Getenv(StormHolderEnv) != "" {
		if err := RunStormHolder(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(EndpointEnv) != "" {
		if err := RunEndpoint(context.Background(), os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testEndpoint is the argv that re-executes this test binary as an endpoint.
func testEndpoint(t *testing.T) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	return []string{exe}
}
