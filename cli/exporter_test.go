package cli

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// TestExporterBadInput: each bad command line exits with the status and a
// message that says what to change, before serving anything.
func TestExporterBadInput(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"--listen", busy.Addr().String()}, 1, "in use by another program: choose another port"},
		{[]string{"--listen", "nope"}, 2, "want host:port"},
		{[]string{"--listen", "127.0.0.1:99999"}, 2, "want host:port"},
		{[]string{"--listen", "192.0.2.1:9977"}, 1, "no interface of this host has that address"},
		{[]string{"--interval", "1ms"}, 2, "want at least 100ms"},
		{[]string{"--timeout", "-1s"}, 2, "want a positive duration"},
		{[]string{"--budget", "-1s"}, 2, "want a positive duration"}, // the deprecated alias
		{[]string{"--top", "-3"}, 2, "want a positive count"},
		{[]string{"extra"}, 2, "takes no arguments"},
		{[]string{"--listen", ""}, 2, "--listen is empty"},
		{[]string{"--proc", "/nonexistent"}, 2, "no process found there"},
		{[]string{"--proc", t.TempDir()}, 2, "no process found there"},
	} {
		var out, errb bytes.Buffer
		code := Run(append([]string{"exporter"}, tc.args...), nil, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.contains) {
			t.Errorf("flatline exporter %s: exit %d, stderr %q; want exit %d and %q",
				strings.Join(tc.args, " "), code, errb.String(), tc.code, tc.contains)
		}
	}
}
