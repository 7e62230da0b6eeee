package enforce_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/enforce"
)

// Hold every TCP connection of a service's cgroup to a 5 s promise until
// interrupted.
func ExampleAttach() {
	e, err := enforce.Attach("/sys/fs/cgroup/system.slice/postgresql.service",
		enforce.Options{Config: flatline.Config{Timeout: 5 * time.Second}})
	if errors.Is(err, flatline.ErrNotSupported) {
		log.Fatal(err) // names the kernel feature and the version it needs
	}
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close() // detaches; so does the end of the process
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	s, _ := e.Stats()
	fmt.Println(s.Connects, "connections configured,", s.Clamped, "looser values rewritten")
}

// Give the open sockets of a running process a 5 s promise.
func ExampleApply() {
	rep, err := enforce.Apply(context.Background(), 1234, enforce.ApplyOptions{Config: flatline.Config{Timeout: 5 * time.Second}})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range rep.Sockets {
		fmt.Println(s.FD, s.State, s.BeforeBound, "->", s.AfterBound, s.Err)
	}
}
