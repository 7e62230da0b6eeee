package quickstart_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMECompiled: every line of the README's Go snippets appears in the
// examples of this package, which the compiler checks; a README line
// changed without them fails here.
func TestREADMECompiled(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skipf("README not found beside the examples module: %v", err)
	}
	examples, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	compiled := map[string]bool{}
	for _, l := range strings.Split(string(examples), "\n") {
		compiled[strings.TrimSpace(l)] = true
	}
	in := false
	n := 0
	for i, l := range strings.Split(string(readme), "\n") {
		switch {
		case strings.HasPrefix(l, "```go"):
			in = true
		case strings.HasPrefix(l, "```"):
			in = false
		case in && strings.TrimSpace(l) != "":
			n++
			if !compiled[strings.TrimSpace(l)] {
				t.Errorf("README.md:%d is not in examples/quickstart/example_test.go: %s", i+1, strings.TrimSpace(l))
			}
		}
	}
	if n == 0 {
		t.Error("no Go snippet found in README.md")
	}
}
