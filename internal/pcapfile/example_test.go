package pcapfile_test

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/flatline-dev/flatline/internal/pcapfile"
)

func Example() {
	var file bytes.Buffer
	w, err := pcapfile.NewWriter(&file, 1, 1500) // Ethernet, snap length 1500
	if err != nil {
		panic(err)
	}
	if err := w.WritePacket(time.Unix(1700000000, 5), []byte{0xff, 0xff}, 60); err != nil {
		panic(err)
	}

	r, err := pcapfile.NewReader(&file)
	if err != nil {
		panic(err)
	}
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err) // wraps pcapfile.ErrTruncated or ErrMalformed
		}
		fmt.Println(r.Format(), p.Timestamp.UTC().Format(time.RFC3339Nano), p.LinkType, p.Length, len(p.Data))
	}
	// Output: pcap 2023-11-14T22:13:20.000000005Z 1 60 2
}
