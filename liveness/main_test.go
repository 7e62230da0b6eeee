package liveness_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/liveness"
)

// peerEnv makes the test binary a liveness peer ("address timeout"): it
// dials the address, runs a Monitor with the timeout, says "ready", and on
// the link's end says "end <Err>". Closing its stdin closes the Monitor.
const peerEnv = "LIVENESS_TEST_PEER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(peerEnv); spec != "" {
		if err := runPeer(spec, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runPeer(spec string, stdin io.Reader, stdout io.Writer) error {
	f := strings.Fields(spec)
	if len(f) != 2 {
		return fmt.Errorf("bad %s %q, want \"address timeout\"", peerEnv, spec)
	}
	t, err := time.ParseDuration(f[1])
	if err != nil {
		return err
	}
	d := flatline.Dialer{Config: flatline.Config{Timeout: max(t, flatline.MinTimeout)}}
	conn, err := d.DialContext(context.Background(), "tcp", f[0])
	if err != nil {
		return err
	}
	m, err := liveness.New(conn, liveness.Config{Timeout: t})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")
	go func() {
		io.Copy(io.Discard, bufio.NewReader(stdin))
		m.Close()
	}()
	<-m.Done()
	fmt.Fprintln(stdout, "end", m.Err())
	return nil
}
