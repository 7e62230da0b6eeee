package trace

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/flatline-dev/flatline/lab"
)

// TestMain lets the test binary serve as the lab's server endpoint: lab.Run
// re-executes it with lab.EndpointEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(lab.EndpointEnv) != "" {
		if err := lab.RunEndpoint(context.Background(), os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
