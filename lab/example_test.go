package lab_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"

	"github.com/flatline-dev/flatline/lab"
)

// Build a topology, dial the server from the client namespace, then cut the
// path in the router.
func ExampleNew() {
	topo, err := lab.New(context.Background())
	if errors.Is(err, lab.ErrNotSupported) {
		log.Fatalf("cannot run the lab here: %v", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer topo.Close()

	var ln net.Listener
	err = topo.Server.Do(func() error {
		ln, err = net.Listen("tcp", net.JoinHostPort(topo.ServerAddr.String(), "8080"))
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()

	var c net.Conn
	err = topo.Client.Do(func() error {
		c, err = net.Dial("tcp", ln.Addr().String())
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := topo.Apply(lab.Blackhole); err != nil {
		log.Fatal(err)
	}
	// ... measure how long c takes to fail ...
	if err := topo.Heal(); err != nil {
		log.Fatal(err)
	}
}

func ExampleFaults() {
	for _, f := range lab.Faults() {
		fmt.Println(f)
	}
	// Output:
	// blackhole
	// one-way-out
	// one-way-in
	// link-down
}

// List the cells of the quick matrix that exercise a blackhole against the
// flatline configuration.
func ExampleMatrix() {
	cells, err := lab.Matrix(true, "*/blackhole/flatline")
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range cells {
		fmt.Println(c.Name())
	}
	// Output:
	// idle/blackhole/flatline
	// sending/blackhole/flatline
	// receiving/blackhole/flatline
	// replication/blackhole/flatline
	// connect/blackhole/flatline
}
