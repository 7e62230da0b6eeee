package trace_test

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/flatline-dev/flatline/trace"
)

// Print why the kernel ends each TCP connection of one network namespace
// until interrupted (as root, Linux 5.8 with BTF).
func ExampleNew() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT)
	defer stop()
	tr, err := trace.New(trace.Options{NetNS: "blue"})
	if err != nil {
		fmt.Println(err) // errors.Is(err, flatline.ErrNotSupported) on an older kernel
		return
	}
	defer tr.Close() // detaches and unloads every program
	for {
		e, err := tr.Read(ctx)
		if err != nil {
			break
		}
		fmt.Println(e.Local, e.Remote, e.PID, e.Comm, e.Cause, e.Limit, e.ErrnoName())
	}
	if n, _ := tr.Lost(); n > 0 {
		fmt.Println(n, "deaths lost: the reader fell behind")
	}
}
