package exporter_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/vishvananda/netlink"
)

// badName is what the hostile process calls itself: any local user may,
// with prctl(PR_SET_NAME) or a write to /proc/self/comm.
const badName = "\xff\xfebad"

// badNameMain names this process badName (the thread group leader's comm,
// which /proc/PID/comm shows), holds two loopback connections in its
// (new) namespace, prints "READY PID" and waits for stdin to close.
func badNameMain() error {
	if err := os.WriteFile("/proc/self/comm", []byte(badName), 0); err != nil {
		return err
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var keep []net.Conn
	for range 2 {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return err
		}
		s, err := ln.Accept()
		if err != nil {
			return err
		}
		keep = append(keep, c, s)
	}
	fmt.Printf("READY %d\n", os.Getpid())
	io.Copy(io.Discard, os.Stdin)
	runtime.KeepAlive(keep)
	return nil
}

// families are the metric families the exporter serves after a scan, with
// a socket-holding process and a death tracer (the Go and process
// collectors' aside).
var families = []string{
	"flatline_sockets", "flatline_socket_worst_case_seconds", "flatline_budget_seconds",
	"flatline_process_sockets", "flatline_process_sockets_over_budget", "flatline_process_worst_case_seconds",
	"flatline_netns_info", "flatline_uncovered", "flatline_scan_duration_seconds", "flatline_scan_timestamp_seconds",
	"flatline_scan_success", "flatline_scans_total", "flatline_scan_errors_total", "flatline_collect_errors_total",
	"flatline_scrape_duration_seconds", "flatline_false_kills_expected_per_hour",
	"flatline_deaths_total", "flatline_deaths_source_up",
}

// TestIntegrationHostileProcessName: a process whose name is not UTF-8
// holds sockets in a namespace of its own (so its name is the
// namespace's comm label too). The exporter's page keeps every family,
// shows the name as valid UTF-8, counts no collection error and says the
// scan succeeded.
func TestIntegrationHostileProcessName(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the exporter scans another network namespace")
	}
	cmd, stdin, stdout := testutil.StartInNewNetNS(t, badEnv+"=1")
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "READY ") {
		t.Fatalf("bad-name holder: %q %v", sc.Text(), sc.Err())
	}
	pid := strings.TrimPrefix(sc.Text(), "READY ")
	go io.Copy(io.Discard, stdout)
	if b, err := os.ReadFile("/proc/" + pid + "/comm"); err != nil || utf8.Valid(b) {
		t.Fatalf("holder's comm %q (%v): want bytes that are not UTF-8", b, err)
	}

	addr := startExporter(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var page string
	waitFor(t, ctx, "the holder's sockets on the page", func() (bool, string) {
		page = get(t, "http://"+addr+"/metrics")
		return strings.Contains(page, `flatline_process_sockets{comm="`) && strings.Contains(page, `pid="`+pid+`"`), "pid " + pid + " not on the page"
	})
	if !utf8.ValidString(page) {
		t.Error("the page is not valid UTF-8")
	}
	served := map[string]bool{}
	for _, l := range strings.Split(page, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			served[f[2]] = true
		}
	}
	for _, f := range families {
		if !served[f] {
			t.Errorf("family %s missing from the page", f)
		}
	}
	want := `comm="\uFFFDbad",pid="` + pid + `"`
	if !strings.Contains(page, strings.ReplaceAll(want, `\uFFFD`, "\uFFFD")) {
		t.Errorf("no series with %s", want)
	}
	for _, l := range []string{"flatline_scan_success 1", "flatline_collect_errors_total 0", "promhttp_metric_handler_errors_total{cause=\"gathering\"} 0"} {
		if !strings.Contains(page, l+"\n") {
			t.Errorf("page lacks %q", l)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", page)
	}
}

// get returns the body of a GET of url.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}
