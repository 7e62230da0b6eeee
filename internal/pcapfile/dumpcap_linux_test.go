package pcapfile

import (
	"bufio"
	"context"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/vishvananda/netlink"
)

// TestIntegrationDumpcapAgrees captures real traffic with dumpcap, as
// pcapng and as pcap, on the loopback of a namespace it makes, and reads
// both files with the Reader and with tshark: they must agree packet for
// packet (kernel timestamps, lengths, interface, bytes).
func TestIntegrationDumpcapAgrees(t *testing.T) {
	for _, tool := range []string{"dumpcap", "tshark"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install tshark): it is this test's oracle", tool)
		}
	}
	_, ns := testutil.NetNS(t, "pcap")
	dir := t.TempDir()
	for _, format := range []string{"pcapng", "pcap"} {
		name := filepath.Join(dir, "lo."+format)
		captureLoopback(t, ns, name, format == "pcap")
		if agreeWithTshark(t, name) == 0 {
			t.Fatalf("%s: dumpcap captured nothing", format)
		}
	}
}

// captureLoopback runs dumpcap on the namespace's loopback while a TCP
// connection there exchanges a few messages.
func captureLoopback(t *testing.T, ns, name string, pcap bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// dumpcap stops by itself after 20 packets, its file complete (stopped
	// by a signal, it may drop what it has not written).
	args := []string{"-q", "-i", "lo", "-c", "20", "-w", name}
	if pcap {
		args = append(args, "-P")
	}
	cmd := exec.CommandContext(ctx, "dumpcap", args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	err = kernel.InNetNS(ns, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return err
		}
		return cmd.Start() // dumpcap runs in the namespace
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// dumpcap says "Capturing on 'Loopback: lo'" once it captures.
	sc := bufio.NewScanner(stderr)
	for started := false; !started; {
		if !sc.Scan() {
			t.Fatalf("dumpcap ended before capturing: %v", sc.Err())
		}
		started = strings.Contains(sc.Text(), "Capturing on")
	}
	go io.Copy(io.Discard, stderr)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	var c net.Conn
	if err := kernel.InNetNS(ns, func() error {
		var err error
		c, err = net.Dial("tcp", ln.Addr().String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Messages of growing size until dumpcap has its packets (it reports
	// "Capturing on" a little before it sees the first one).
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	buf := make([]byte, 2000)
	for i := 0; ; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("dumpcap: %v", err)
			}
			c.Close()
			return
		default:
		}
		n := 1 + i%len(buf)
		if _, err := c.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			t.Fatal(err)
		}
	}
}
