package diag

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/topology"
)

// TestIntegrationInspectPostgresFragile: a real PostgreSQL server (the
// distribution's package) with tcp_keepalives 7 s / 3 s / 4 and
// tcp_user_timeout = 5000, as seen in the wild. The user timeout is below
// idle + interval, so a single lost probe kills its sockets: inspect must
// say fragile, tolerating no lost probe, and after a cut in the router the
// kernel must end the backend's socket within inspect's worst case (plus
// 250 ms for the polls and a loaded machine).
func TestIntegrationInspectPostgresFragile(t *testing.T) {
	requireRoot(t)
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(bins) == 0 {
		t.Skip("PostgreSQL not installed (Debian package postgresql; .ci/run installs it)")
	}
	bin := bins[len(bins)-1]
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Skipf("no postgres user to run the server as: %v", err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	cred := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Pdeathsig: syscall.SIGKILL}

	dir, err := os.MkdirTemp("", "flt-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(filepath.Dir(bin), "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
	initdb.SysProcAttr = cred
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	topo := serverTopology(ctx, t)
	const port = 5439
	cmd := exec.CommandContext(ctx, bin, "-D", data, "-p", fmt.Sprint(port), "-k", dir,
		"-c", "listen_addresses="+topo.ServerAddr.String(), "-c", "fsync=off",
		"-c", "tcp_keepalives_idle=7", "-c", "tcp_keepalives_interval=3", "-c", "tcp_keepalives_count=4", "-c", "tcp_user_timeout=5000")
	cmd.SysProcAttr = cred
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	startServer(ctx, t, topo, cmd, stderr, "ready to accept connections", syscall.SIGQUIT)
	// A TCP connection is enough: the postmaster sets the keepalive
	// options on accept, and the backend then waits for a startup packet.
	addr := net.JoinHostPort(topo.ServerAddr.String(), fmt.Sprint(port))
	var c net.Conn
	if err := topo.Client.Do(func() error {
		var err error
		c, err = net.Dial("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	backend := helperSocket{Local: addr, Remote: c.LocalAddr().String()}
	var s *Socket
	for s == nil || s.Settings == nil { // the backend is forked after accept
		if ctx.Err() != nil {
			t.Fatal("the backend's socket never showed its options")
		}
		r, err := Scan(ctx, Options{NetNS: topo.Server.Path})
		if err != nil {
			t.Fatal(err)
		}
		s = find(r, backend)
	}

	if err := topo.Apply(topology.Blackhole); err != nil {
		t.Fatal(err)
	}
	scanned := time.Now()
	r, err := Scan(ctx, Options{NetNS: topo.Server.Path})
	if err != nil {
		t.Fatal(err)
	}
	if s = find(r, backend); s == nil || s.Settings == nil || !s.Known {
		t.Fatalf("backend socket %v: %+v", backend, s)
	}
	t.Logf("backend socket: keepalive %v/%v/%d, user timeout %v, verdict %s, worst %v, lost probes %d: %s",
		s.Settings.Idle, s.Settings.Interval, s.Settings.Count, s.Settings.UserTimeout, s.Verdict, s.Worst, s.LostProbes, s.Reason)
	if s.Verdict != VerdictFragile || s.LostProbes != 0 {
		t.Errorf("verdict %s, lost probes %d; want fragile, 0", s.Verdict, s.LostProbes)
	}
	endsWithin(ctx, t, topo, backend, scanned, s.Worst)
}
