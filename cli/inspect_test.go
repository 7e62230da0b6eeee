package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/vishvananda/netlink"
)

// inspectNamespace makes a named network namespace with loopback up and
// one connection in it whose client has keepalive 3s/1s/4, held by this
// process. Everything is removed when the test ends.
func inspectNamespace(t *testing.T) (name string, client net.Conn) {
	t.Helper()
	name, path := testutil.NetNS(t, "cli")
	var ln net.Listener
	err := kernel.InNetNS(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			return err
		}
		d := net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 3 * time.Second, Interval: time.Second, Count: 4}}
		client, err = d.Dial("tcp4", ln.Addr().String())
		return err
	})
	if err != nil {
		t.Fatalf("set up namespace %s: %v", name, err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); s.Close(); ln.Close() })
	return name, client
}

func TestIntegrationInspect(t *testing.T) {
	name, client := inspectNamespace(t)

	var out, errOut bytes.Buffer
	if code := Run([]string{"inspect", "--json", "--netns", name, "--timeout", "10s"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("inspect --json: exit %d: %s", code, errOut.String())
	}
	var doc struct {
		Sockets []map[string]any `json:"sockets"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	var found map[string]any
	for _, s := range doc.Sockets {
		if s["local"] == client.LocalAddr().String() {
			found = s
		}
	}
	if found == nil {
		t.Fatalf("client %v not in %s", client.LocalAddr(), out.String())
	}
	want := map[string]any{
		"pid":       float64(os.Getpid()),
		"keepalive": map[string]any{"enabled": true, "idle_s": float64(3), "interval_s": float64(1), "count": float64(4)},
		"verdict":   "ok",
		"timer":     "keepalive",
	}
	for k, v := range want {
		if fmt.Sprint(found[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, found[k], v)
		}
	}
	// The worst case includes the timer slack the plan states (here for
	// any HZ, the widest).
	set := flatline.Settings{KeepAlive: true, Idle: 3 * time.Second, Interval: time.Second, Count: 4}
	bound := set.Bounds(flatline.LinuxDefaults())[0]
	{
		d, _ := bound.Deadline()
		if ws, ok := found["worst_case_s"].(float64); !ok || ws <= 0 || ws > d.Seconds() {
			t.Errorf("worst_case_s = %v, want in (0, %v] for keepalive 3s + 4×1s + slack", found["worst_case_s"], d.Seconds())
		}
	}

	out.Reset()
	if code := Run([]string{"inspect", "--netns", name}, nil, &out, &errOut); code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), client.LocalAddr().String()) {
		t.Errorf("table does not show %v:\n%s", client.LocalAddr(), out.String())
	}

	out.Reset()
	if code := Run([]string{"inspect", "--netns", name, "--watch", "20ms", "--count", "2"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("inspect --watch: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), client.LocalAddr().String()+" → ") {
		t.Errorf("watch does not show %v appearing:\n%s", client.LocalAddr(), out.String())
	}
}

func TestInspectUsage(t *testing.T) {
	for _, args := range [][]string{
		{"inspect", "--pid", "-3"},
		{"inspect", "--count", "2"},
		{"inspect", "--watch", "--json"},
		{"inspect", "--watch", "0s"},
		{"inspect", "extra"},
		{"inspect", "--watch", "--count", "-1"},
		{"inspect", "--watch", "--duration", "-1s"},
	} {
		var out, errOut bytes.Buffer
		if code := Run(args, nil, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", args, code, errOut.String())
		}
	}
}
