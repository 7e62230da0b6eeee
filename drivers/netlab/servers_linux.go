package netlab

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
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
)

// start starts cmd in the server namespace and waits, at most 60 s, for a
// line of its output containing ready; the process is killed and reaped
// when the test ends.
func (t *Topology) start(tb testing.TB, cmd *exec.Cmd, out io.Reader, ready string) {
	tb.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := t.InServer(cmd.Start); err != nil {
		tb.Fatalf("start %s: %v", cmd.Path, err)
	}
	tb.Cleanup(func() {
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
			tb.Fatalf("%s exited before it was ready: %s", cmd.Path, strings.Join(tail, "\n"))
		}
	case <-time.After(60 * time.Second):
		tb.Fatalf("%s not ready within 60s", cmd.Path)
	}
}

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

// Postgres initializes a database cluster in a fresh directory and starts
// PostgreSQL in the server namespace on ServerAddr:5432; it returns a
// connection string (user postgres, trust authentication). It skips the
// test when PostgreSQL is not installed.
func (t *Topology) Postgres(tb testing.TB) string {
	tb.Helper()
	bin := postgresBin()
	if bin == "" {
		tb.Skip("PostgreSQL not installed (no /usr/lib/postgresql/*/bin/postgres)")
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		tb.Skipf("no postgres user to run PostgreSQL as: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "flt-drv-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		tb.Fatal(err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintln(hba, "host all all 0.0.0.0/0 trust")
	hba.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir,
		"-h", ServerAddr.String(), "-p", "5432", "-c", "fsync=off", "-c", "logging_collector=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	t.start(tb, cmd, out, "ready to accept connections")
	return fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", net.JoinHostPort(ServerAddr.String(), "5432"))
}

// Redis starts redis-server in the server namespace with persistence off
// and returns its address: plaintext on port 6379, or, with tlsOn, TLS
// only on port 6380 with a fresh self-signed certificate for ServerAddr,
// returned as a pool for the client's RootCAs (nil without TLS). It skips
// the test when redis-server is not installed or was built without TLS.
func (t *Topology) Redis(tb testing.TB, tlsOn bool) (string, *x509.CertPool) {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Skipf("redis-server not installed: %v", err)
	}
	dir := tb.TempDir()
	args := []string{"--bind", ServerAddr.String(), "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", dir}
	port := "6379"
	var pool *x509.CertPool
	if tlsOn {
		port = "6380"
		cert, key, p := selfSigned(tb)
		pool = p
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(certFile, cert, 0o600); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			tb.Fatal(err)
		}
		args = append(args, "--port", "0", "--tls-port", port, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
			"--tls-ca-cert-file", certFile, "--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", port)
	}
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	t.start(tb, cmd, out, "Ready to accept connections")
	return net.JoinHostPort(ServerAddr.String(), port), pool
}

// selfSigned makes a certificate for ServerAddr and its key, PEM encoded,
// and a pool trusting it.
func selfSigned(tb testing.TB) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "netlab server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IP(ServerAddr.AsSlice())},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), pool
}

// TLSServer returns a TLS configuration with a fresh self-signed
// certificate for ServerAddr, and a pool for the client's RootCAs.
func TLSServer(tb testing.TB) (*tls.Config, *x509.CertPool) {
	tb.Helper()
	certPEM, keyPEM, pool := selfSigned(tb)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, pool
}
