package cli

import (
	"bytes"
	"testing"
)

// TestExtraArgumentIsUsage: every command refuses an argument it does not
// take with exit 2, as the documentation says.
func TestExtraArgumentIsUsage(t *testing.T) {
	root := newRootCmd()
	var cmds [][]string
	for _, c := range root.Commands() {
		if c.Runnable() {
			cmds = append(cmds, []string{c.Name()})
		}
		for _, sub := range c.Commands() {
			cmds = append(cmds, []string{c.Name(), sub.Name()})
		}
	}
	if len(cmds) < 8 {
		t.Fatalf("found only %v", cmds)
	}
	for _, c := range cmds {
		if c[0] == "help" || c[0] == "completion" || c[0] == "pcap" {
			continue // pcap takes its capture file as the argument
		}
		args := append(c, "extra", "words")
		var out, errOut bytes.Buffer
		if code := Run(args, nil, &out, &errOut); code != 2 {
			t.Errorf("flatline %v: exit %d, want 2: %s", args, code, errOut.String())
		}
	}
}
