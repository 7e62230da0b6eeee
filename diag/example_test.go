package diag_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/flatline-dev/flatline/diag"
)

// Scan the sockets of one process, in its own network namespace, and print
// the table for people.
func ExampleScan() {
	r, err := diag.Scan(context.Background(), diag.Options{PID: os.Getpid(), Max: 10 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range r.Sockets {
		fmt.Println(s.Local, s.Remote, s.Verdict, s.Reason)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r) // the same result for programs
}

// Follow timer transitions for ten seconds.
func ExampleWatch() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := diag.Watch(ctx, diag.Options{}, diag.WatchOptions{Interval: 50 * time.Millisecond}, func(t diag.Transition) error {
		fmt.Println(t)
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
}

func ExampleParseSocketLink() {
	for _, link := range []string{"socket:[40213]", "pipe:[40214]"} {
		ino, ok := diag.ParseSocketLink(link)
		fmt.Println(link, ino, ok)
	}
	// Output:
	// socket:[40213] 40213 true
	// pipe:[40214] 0 false
}

func ExampleTransition_String() {
	t := diag.Transition{
		Time:    time.Date(2026, 11, 24, 4, 0, 1, 250e6, time.UTC),
		Local:   netip.MustParseAddrPort("10.0.0.1:40000"),
		Remote:  netip.MustParseAddrPort("10.0.0.2:80"),
		FromTCP: diag.StateEstablished, ToTCP: diag.StateEstablished,
		From: diag.TimerKeepalive, To: diag.TimerOn,
		Expires: 204 * time.Millisecond, Unacked: 1,
	}
	fmt.Println(t)
	// Output:
	// 04:00:01.250  10.0.0.1:40000 → 10.0.0.2:80  ESTAB  keepalive → on  (retrans 0, probes 0, unacked 1, fires in 204ms)
}

func ExampleDecodeTCPInfo() {
	b := make([]byte, 104) // the shortest tcp_info: Linux 2.6
	b[2] = 3               // tcpi_retransmits
	_, err := diag.DecodeTCPInfo(b[:50])
	fmt.Println(err)
	ti, _ := diag.DecodeTCPInfo(b)
	fmt.Println(ti.Retransmits, ti.HasSndWnd)
	// Output:
	// diag: decode tcp_info: 50 bytes, want at least 104
	// 3 false
}
