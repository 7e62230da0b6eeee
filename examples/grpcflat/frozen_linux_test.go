package grpcflat

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// serverEnv makes the test binary a gRPC server process (its value: the
// timeout) that prints its address.
const serverEnv = "GRPCFLAT_TEST_SERVER"

func runServer(timeout string) error {
	t, err := time.ParseDuration(timeout)
	if err != nil {
		return err
	}
	opts, lc, err := ServerOptions(flatline.Config{Timeout: t})
	if err != nil {
		return err
	}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(s, health.NewServer())
	fmt.Println(ln.Addr())
	return s.Serve(ln)
}

// TestFrozenServer: a gRPC server process stopped with SIGSTOP while a
// stream waits on it: its kernel answers everything, gRPC's keepalive ping
// goes unanswered, and the stream fails within Derive's FrozenPeer bound
// (below T).
func TestFrozenServer(t *testing.T) {
	const timeout = 15 * time.Second
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), serverEnv+"="+timeout.String())
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("server process: %v", err)
	}

	cfg := flatline.Config{Timeout: timeout}
	p, _ := Derive(cfg)
	dopts, d, err := DialOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient("passthrough:///"+strings.TrimSpace(addr), append(dopts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
	defer cancel()
	stream, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // the current status; then the stream waits
		t.Fatal(err)
	}
	if err := d.Verify(); err != nil {
		t.Fatal(err)
	}

	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	_, err = stream.Recv()
	took := time.Since(frozen)
	if err == nil {
		t.Fatal("Recv returned a message from a frozen server")
	}
	const slack = 500 * time.Millisecond
	if took > p.FrozenPeer+slack || ctx.Err() != nil {
		t.Errorf("frozen server noticed after %v, bound %v (+%v)", took, p.FrozenPeer, slack)
	}
	t.Logf("frozen server noticed after %v (bound %v, T %v): %v", took, p.FrozenPeer, timeout, err)
}

func TestMain(m *testing.M) {
	if addr := os.Getenv(serverEnv); addr != "" {
		if err := runServer(addr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
