package servertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/lab"
)

// postgresBin is where Debian's postgresql packages put their programs:
// the newest /usr/lib/postgresql/*/bin that has postgres, "" if none.
func postgresBin() string {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	best, bestVersion := "", -1
	for _, b := range bins {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(b))))
		if err == nil && v > bestVersion {
			best, bestVersion = filepath.Dir(b), v
		}
	}
	return best
}

// Topology builds a lab topology, or skips the test when it cannot (not
// root, no namespaces); it is removed when the test ends.
func Topology(t testing.TB) *lab.Topology {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topo, err := lab.New(ctx)
	if errors.Is(err, lab.ErrNotSupported) {
		t.Skipf("lab not supported here: %v", err)
	}
	if err != nil {
		t.Fatalf("lab.New: %v", err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return topo
}

// InClient wraps a dial function so that its sockets are made in the
// topology's client namespace, whichever goroutine the client library
// dials on.
func InClient(topo *lab.Topology, dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		err = topo.Client.Do(func() error {
			c, err = dial(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// start starts cmd in the server namespace and waits, at most 60 s, for a
// line of its output containing ready; the process is killed and reaped
// when the test ends.
func start(t testing.TB, topo *lab.Topology, cmd *exec.Cmd, out io.Reader, ready string) {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := topo.Server.Do(cmd.Start); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	found := make(chan bool, 1)
	var tail []string
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.Contains(s.Text(), ready) {
				found <- true
				io.Copy(io.Discard, out)
				return
			}
			tail = append(tail, s.Text())
		}
		found <- false
	}()
	select {
	case ok := <-found:
		if !ok {
			t.Fatalf("%s exited before it was ready: %s", cmd.Path, strings.Join(tail, "\n"))
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%s not ready within 60s", cmd.Path)
	}
}

// Postgres initializes a database cluster in a fresh directory and starts
// PostgreSQL in the server namespace, listening on the server's address;
// it returns a connection string (user postgres, trust authentication).
// It skips the test when PostgreSQL is not installed.
func Postgres(t testing.TB, topo *lab.Topology) string {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		t.Skip("PostgreSQL not installed (no /usr/lib/postgresql/*/bin/postgres)")
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Skipf("no postgres user to run PostgreSQL as: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "flt-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	as := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = as
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(hba, "host all all 0.0.0.0/0 trust")
	hba.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir,
		"-h", topo.ServerAddr.String(), "-p", "5432", "-c", "fsync=off", "-c", "logging_collector=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: as.Credential}
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	start(t, topo, cmd, out, "ready to accept connections")
	return fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", net.JoinHostPort(topo.ServerAddr.String(), "5432"))
}

// Redis starts redis-server in the server namespace, listening on the
// server's address with persistence off, and returns its address. It skips
// the test when redis-server is not installed.
func Redis(t testing.TB, topo *lab.Topology) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skipf("redis-server not installed: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "--bind", topo.ServerAddr.String(), "--port", "6379", "--save", "", "--appendonly", "no",
		"--protected-mode", "no", "--dir", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start(t, topo, cmd, out, "Ready to accept connections")
	return net.JoinHostPort(topo.ServerAddr.String(), "6379")
}
