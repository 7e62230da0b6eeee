package redial_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/redial"
)

// A dialer for a client library that retries: a dial to an address whose
// last connection died of a dead peer gets only what is left of T.
func ExampleNew() {
	d, err := redial.New(flatline.Config{Timeout: 5 * time.Second}, redial.Options{})
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialContext(context.Background(), "tcp", "db.internal:5432")
	var silent *redial.PeerSilentError
	switch {
	case errors.As(err, &silent):
		log.Printf("%s was silent for %v, cause %v", silent.Address, silent.Silent, silent.Cause)
	case err != nil:
		log.Print(err)
	default:
		c.Close()
	}
}
