package cli

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/flatline-dev/flatline/lab"
)

// TestMain lets the test binary serve as a storm's connection holder:
// `flatline lab storm` re-executes its own executable (here, this test
// binary) with lab.StormHolderEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(lab.StormHolderEnv) != "" {
		if err := lab.RunStormHolder(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
