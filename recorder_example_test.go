package flatline_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/flatline-dev/flatline"
)

// A Recorder answers, after the fact, why a connection ended, whatever a
// driver made of the error. Here the application closes a healthy
// connection; a connection the kernel ended would say keepalive,
// unacked-data, closed-window, reset, ...
func ExampleRecorder() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()

	rec := &flatline.Recorder{}
	dial := rec.DialContext(&flatline.Dialer{Config: flatline.Config{Timeout: 10 * time.Second}})
	// A driver's dial hook: pgx's Config.DialFunc, http.Transport.DialContext, ...
	conn, err := dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	conn.Close() // a driver that closes before telling anyone why

	if end, ok := rec.Of(conn); ok {
		fmt.Println(end.Cause, end.AtClose)
	}
	// Output: local-close true
}
