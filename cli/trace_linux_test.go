package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/testutil"
)

// TestIntegrationTraceCommand runs `flatline trace --json --count 1` on a
// namespace of its own, resets a connection there once trace says
// "tracing", and checks the line it prints and that nothing stays loaded.
func TestIntegrationTraceCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads BPF programs and makes network namespaces")
	}
	if fds := bpfFDs(t); len(fds) > 0 {
		t.Fatalf("BPF fds open before the test: %v", fds)
	}
	top := testutil.Topology(t)

	var out bytes.Buffer
	errR, errW := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- Run([]string{"trace", "--json", "--count", "1", "--duration", "20s", "--netns", top.Client.Path}, nil, &out, errW)
		errW.Close()
	}()
	stderr := bufio.NewScanner(errR)
	var errLines []string
	for stderr.Scan() {
		errLines = append(errLines, stderr.Text())
		if strings.Contains(stderr.Text(), "tracing") {
			break
		}
	}
	go io.Copy(io.Discard, errR)
	if len(errLines) == 0 || !strings.Contains(errLines[len(errLines)-1], "tracing") {
		if c := <-code; c != 0 && errors.Is(traceSupported(), flatline.ErrNotSupported) {
			t.Skip(errLines)
		}
		t.Fatalf("no tracing line on stderr: %q", errLines)
	}

	var ln net.Listener
	if err := top.Server.Do(func() error {
		var err error
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(top.ServerAddr, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var c net.Conn
	if err := top.Client.Do(func() error {
		var err error
		c, err = net.Dial("tcp4", ln.Addr().String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.(*net.TCPConn).SetLinger(0)
	s.Close()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after the peer's RST succeeded")
	}

	if c := <-code; c != 0 {
		t.Fatalf("trace exit %d; stderr %q", c, errLines)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	for k, want := range map[string]any{
		"cause": "reset", "errno": "ECONNRESET", "pid": float64(os.Getpid()),
		"local": c.LocalAddr().String(), "remote": c.RemoteAddr().String(),
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (line %s)", k, got[k], want, out.String())
		}
	}
	for _, k := range []string{"time", "comm", "settings", "retransmits", "probes", "silent_s"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %q in %s", k, out.String())
		}
	}
	if fds := bpfFDs(t); len(fds) > 0 {
		t.Errorf("BPF objects still open after trace returned: %v", fds)
	}
}
