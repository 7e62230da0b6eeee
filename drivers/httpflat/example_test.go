package httpflat_test

import (
	"log"
	"net/http"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/drivers/httpflat"
)

// A client whose requests notice a dead server within 30 s, with
// http.DefaultTransport's pool and timeouts, and causes on its errors.
func ExampleNew() {
	tr, err := httpflat.New(nil, flatline.Config{Timeout: 30 * time.Second}, nil)
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: tr}
	resp, err := client.Get("https://api.internal/health")
	if err != nil {
		log.Printf("%v (cause %v)", err, flatline.Diagnose(nil, err))
		return
	}
	resp.Body.Close()
}
