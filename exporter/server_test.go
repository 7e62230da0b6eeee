package exporter

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs Serve with c on a loopback port for the test and returns its
// address.
func serve(t *testing.T, c HTTPConfig) string {
	t.Helper()
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, e.Handler(), c) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// idleClient connects, makes one keep-alive request, reads the answer and
// keeps the connection open without a second request.
func idleClient(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return c, r
}

// waitClosed returns how long until the server closes c (a read sees EOF
// or a reset), failing t if that takes longer than limit.
func waitClosed(t *testing.T, c net.Conn, r io.Reader, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, r)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
	return time.Since(start)
}

// TestServeClosesIdleClients: keep-alive clients that send nothing more
// are closed after IdleTimeout (1 s here; the bound allows 10 s of load).
func TestServeClosesIdleClients(t *testing.T) {
	addr := serve(t, HTTPConfig{IdleTimeout: time.Second})
	var conns []net.Conn
	var readers []*bufio.Reader
	for range 20 {
		c, r := idleClient(t, addr)
		conns, readers = append(conns, c), append(readers, r)
	}
	for i, c := range conns {
		waitClosed(t, c, readers[i], 10*time.Second)
	}
}

// TestServeClosesStalledRequests: a POST that announces 10 bytes and
// sends 3 is closed after ReadTimeout (1 s here), answered or not.
func TestServeClosesStalledRequests(t *testing.T) {
	addr := serve(t, HTTPConfig{ReadTimeout: time.Second, IdleTimeout: time.Minute})
	for _, path := range []string{"/metrics", "/"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, c, c, 10*time.Second)
	}
}

// TestServeAnswersAtTheCap: with every slot held by idle clients, a
// scrape is still answered (the longest idle is closed for it); with
// every slot taken by stalled requests, it is answered too (at the latest
// when ReadTimeout ends one of them; the client allows 20 s).
func TestServeAnswersAtTheCap(t *testing.T) {
	const max = 4
	addr := serve(t, HTTPConfig{MaxConns: max, IdleTimeout: time.Hour, ReadTimeout: 2 * time.Second})
	for range max {
		idleClient(t, addr)
	}
	scrape := func() {
		t.Helper()
		c := http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatalf("scrape at the cap: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "flatline_scan_success") {
			t.Fatalf("scrape at the cap: %s", resp.Status)
		}
	}
	scrape()
	for range max {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	}
	start := time.Now()
	scrape()
	t.Logf("scrape with every slot busy answered after %v", time.Since(start))
}
