package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/lab"
	"github.com/jackc/pgx/v5"
)

// pgBin finds the server binaries of the distribution's PostgreSQL, the
// newest version installed.
func pgBin() (string, error) {
	dirs, err := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if err != nil || len(dirs) == 0 {
		return "", fmt.Errorf("no /usr/lib/postgresql/*/bin/postgres")
	}
	sort.Strings(dirs)
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

// startPostgres runs a throwaway PostgreSQL server in the lab's server
// namespace, as the postgres user, trusting every connection, and stops
// it and removes its files when the test ends.
func startPostgres(t *testing.T, top *lab.Topology) string {
	t.Helper()
	bin, err := pgBin()
	if err != nil {
		t.Skipf("PostgreSQL not installed: %v", err)
	}
	var uid, gid uint32 = 101, 104
	if out, err := exec.Command("id", "-u", "postgres").Output(); err == nil {
		fmt.Sscan(string(out), &uid)
	}
	if out, err := exec.Command("id", "-g", "postgres").Output(); err == nil {
		fmt.Sscan(string(out), &gid)
	}
	dir, err := os.MkdirTemp("", "flt-pgxcause-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		t.Fatal(err)
	}
	asPostgres := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
	initdb.SysProcAttr = asPostgres
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// The lab's client address is not local: trust it too.
	hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(hba, "host all all %s/32 trust\n", top.ClientAddr)
	if cerr := hba.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	pg := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir,
		"-c", "listen_addresses="+top.ServerAddr.String(), "-p", "5432", "-c", "fsync=off")
	pg.SysProcAttr = asPostgres
	stderr, err := pg.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Started from a thread in the namespace, the server lives there.
	if err := top.Server.Do(pg.Start); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pg.Process.Signal(syscall.SIGQUIT)
		pg.Wait()
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var log []string
		for sc.Scan() {
			log = append(log, sc.Text())
			if strings.Contains(sc.Text(), "ready to accept connections") {
				ready <- nil
				for sc.Scan() {
				}
				return
			}
		}
		ready <- fmt.Errorf("postgres ended before it was ready:\n%s", strings.Join(log, "\n"))
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("postgres not ready after 30 s")
	}
	return fmt.Sprintf("postgres://postgres@%s:5432/postgres?sslmode=disable", top.ServerAddr)
}

// TestIntegrationPgxCause: a real PostgreSQL behind the lab's router, the
// network cut during a query. pgx's error does not say why; the Recorder
// does.
func TestIntegrationPgxCause(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and a server run as the postgres user")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	top, err := lab.New(ctx)
	if errors.Is(err, lab.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer top.Close()
	dsn := startPostgres(t, top)

	rec := &flatline.Recorder{}
	var conn *pgx.Conn
	if err := top.Client.Do(func() error {
		conn, err = Connect(ctx, dsn, 3*time.Second, rec)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	if got := Why(rec, conn); got != "still open" {
		t.Errorf("healthy connection: %s", got)
	}

	if err := top.Apply(lab.Blackhole); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	if err == nil {
		t.Fatal("query through a cut network succeeded")
	}
	why := Why(rec, conn)
	t.Logf("after %v pgx says %q (flatline.Diagnose: %v); the Recorder says %s",
		time.Since(start).Round(time.Millisecond), err, flatline.Diagnose(nil, err), why)
	if !strings.HasPrefix(why, flatline.CauseUnacked.String()) {
		t.Errorf("Recorder says %q, want %s: the query was sent and never acknowledged", why, flatline.CauseUnacked)
	}
}
