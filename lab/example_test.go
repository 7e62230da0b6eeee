package lab_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"time"

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

// Soak 200 idle connections of flatline's default plan for 30 s at 5 %
// random loss each way, and print the count beside the model's. The soak's
// servers and clients are this program re-executed: it must call
// lab.RunEndpoint when lab.EndpointEnv is set (as flatline lab endpoint
// does).
func ExampleRunSoak() {
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	loss, err := lab.ParseLoss("5%")
	if err != nil {
		log.Fatal(err)
	}
	res, err := lab.RunSoak(context.Background(), lab.SoakConfig{
		Conns: 200, Duration: 30 * time.Second,
		Configs: []lab.ConfigName{lab.Flatline}, Workloads: []lab.SoakWorkload{lab.SoakIdle}, Losses: []lab.Loss{loss},
		Endpoint: []string{exe},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := lab.WriteSoakTable(os.Stdout, res); err != nil {
		log.Fatal(err)
	}
}
