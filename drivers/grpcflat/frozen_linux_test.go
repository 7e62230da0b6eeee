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
	"google.golang.org/grpc/keepalive"
)

// serverEnv makes the test binary a gRPC server process (its value: the
// timeout) that prints its address.
const serverEnv = "GRPCFLAT_TEST_SERVER"

func runServer(timeout string) error {
	t, err := time.ParseDuration(timeout)
	if err != nil {
		return err
	}
	opts, lc, _, err := ServerOptions(flatline.Config{Timeout: t}, keepalive.ServerParameters{})
	if err != nil {
		return err
	}
	// The caller's own policy: clients may ping every 10 s.
	opts = append(opts, grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: MinPingTime, PermitWithoutStream: true}))
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
// stream waits on it: its kernel answers everything, so only pings notice.
// The caller's own pings (Time 10 s, which their server permits) are kept
// by grpcflat with the plan's user timeout as their Timeout, and the
// stream fails within Params.FrozenPeer (Time + Timeout).
func TestFrozenServer(t *testing.T) {
	t.Parallel()
	const timeout = 5 * time.Second
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
	kp := keepalive.ClientParameters{Time: MinPingTime, Timeout: 20 * time.Second, PermitWithoutStream: true}
	dopts, d, err := DialOptions(cfg, Options{Keepalive: kp})
	if err != nil {
		t.Fatal(err)
	}
	p := d.Params
	if p.Changed == "" || p.Client.Time != kp.Time {
		t.Fatalf("Derive kept %+v, changed %q: want the Time kept, the Timeout changed and said so", p.Client, p.Changed)
	}
	t.Log(p.Changed)
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
