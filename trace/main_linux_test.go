package trace

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestMain lets the test binary serve as a client (clientEnv).
func TestMain(m *testing.M) {
	if addr := os.Getenv(clientEnv); addr != "" {
		os.Exit(clientMain(addr))
	}
	os.Exit(m.Run())
}

// clientEnv makes the test binary a client: it dials the address, reads
// until the connection fails, and exits.
const clientEnv = "FLATLINE_TRACE_CLIENT"

func clientMain(addr string) int {
	c, err := net.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		// The server's RST came before Go saw the connect complete:
		// the same death, told to connect.
		fmt.Println(err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	_, err = c.Read(make([]byte, 1))
	fmt.Println(err)
	return 0
}
