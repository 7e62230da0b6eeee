package exporter

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/vishvananda/netlink"
)

// BenchmarkRefreshNamespaces measures one Refresh of the whole host with
// 20 extra namespaces, each with one process holding 10 loopback
// connections (a pod's shape), and 20 empty ones. The host's other
// namespaces are scanned too; the benchmark reports how many there were
// and the time per namespace. Needs root.
//
//	go test ./exporter -run '^$' -bench RefreshNamespaces -benchtime 5x
func BenchmarkRefreshNamespaces(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces")
	}
	const pods, empty, conns = 20, 20, 10
	for i := range pods {
		_, path := testutil.NetNS(b, fmt.Sprintf("pod%d", i))
		startHolder(b, path, conns)
	}
	for i := range empty {
		testutil.NetNS(b, fmt.Sprintf("empty%d", i))
	}
	e, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Refresh(context.Background()); err != nil { // learns which namespaces have sockets
		b.Fatal(err)
	}
	var took time.Duration
	var n int
	for b.Loop() {
		if err := e.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
		s := e.snap.Load()
		took += s.took
		n += len(s.namespaces)
	}
	b.ReportMetric(float64(n)/float64(b.N), "namespaces")
	b.ReportMetric(float64(took.Milliseconds())/float64(n), "ms/namespace")
}

// startHolder starts one process in the namespace at path holding n
// loopback connections (the external test package's bench holder), until
// the benchmark ends.
func startHolder(b *testing.B, path string, n int) {
	b.Helper()
	err := kernel.InNetNS(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("FLATLINE_EXPORTER_BENCH_HOLDER=%d", n))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := kernel.InNetNS(path, cmd.Start); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "READY" {
		b.Fatalf("holder in %s ended before READY", path)
	}
	go io.Copy(io.Discard, out)
}
