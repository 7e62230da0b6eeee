package httpflat

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/examples/redial"
	"github.com/flatline-dev/flatline/lab"
)

const slack = 500 * time.Millisecond

// serverEnv makes the test binary an h2c server process that prints its
// address; its handler waits until the request is canceled.
const serverEnv = "HTTPFLAT_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		s := &http.Server{Handler: http.HandlerFunc(hold), Protocols: new(http.Protocols)}
		s.Protocols.SetUnencryptedHTTP2(true)
		fmt.Println(ln.Addr())
		s.Serve(ln)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hold answers /hold by sending the headers and then waiting; anything
// else at once.
func hold(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "ok\n")
	if r.URL.Path == "/hold" {
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
}

// TestFrozenServerHTTP2: an h2c server process stopped with SIGSTOP while a
// response streams: its kernel answers everything, HTTP/2's ping goes
// unanswered, and the response body fails within 0.9 T.
func TestFrozenServerHTTP2(t *testing.T) {
	const timeout = 3 * time.Second
	exe, _ := os.Executable()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), serverEnv+"=1")
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
		t.Fatal(err)
	}
	tr, err := Transport(flatline.Config{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + strings.TrimSpace(addr) + "/hold")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("got %s, want HTTP/2", resp.Proto)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGSTOP)
	frozen := time.Now()
	_, err = br.ReadString('\n')
	took := time.Since(frozen)
	if err == nil {
		t.Fatal("read more from a frozen server")
	}
	h2, _ := HTTP2Config(flatline.Config{Timeout: timeout})
	if bound := h2.SendPingTimeout + h2.PingTimeout; took > bound+slack {
		t.Errorf("frozen server noticed after %v, bound %v (+%v)", took, bound, slack)
	}
	t.Logf("frozen HTTP/2 server noticed after %v (T %v): %v", took, timeout, err)
}

// TestIntegrationRequestWithinT: a GET on a pooled HTTP/1.1 connection when
// the path to the server is cut. The pooled connection dies on time;
// net/http then retries the GET on a new connection, whose dial into the
// cut path takes up to another T with a plain flatline.Dialer. With
// Transport's dialer the retry gets only what is left of T, and the request
// fails within T.
func TestIntegrationRequestWithinT(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	const timeout = 3 * time.Second
	for _, tt := range []struct {
		name  string
		tr    func() *http.Transport
		bound bool
	}{
		{"httpflat.Transport", func() *http.Transport { tr, _ := Transport(flatline.Config{Timeout: timeout}); return tr }, true},
		{"http.Transport with flatline.Dialer", func() *http.Transport {
			d := &flatline.Dialer{Config: flatline.Config{Timeout: timeout}}
			return &http.Transport{DialContext: d.DialContext}
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			topo := newTopology(t)
			var ln net.Listener
			if err := topo.Server.Do(func() error {
				var err error
				lc := flatline.ListenConfig{Config: flatline.Config{Timeout: timeout}}
				ln, err = lc.Listen(context.Background(), "tcp", net.JoinHostPort(topo.ServerAddr.String(), "80"))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(hold)}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })

			tr := tt.tr()
			dial := tr.DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (c net.Conn, err error) {
				// net/http dials on a goroutine of its own: enter the
				// client namespace there.
				err = topo.Client.Do(func() error {
					c, err = dial(ctx, network, addr)
					return err
				})
				return c, err
			}
			client := &http.Client{Transport: tr}
			url := "http://" + net.JoinHostPort(topo.ServerAddr.String(), "80") + "/"
			get := func() error {
				resp, err := client.Get(url)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				return resp.Body.Close()
			}
			if err := get(); err != nil { // one pooled connection
				t.Fatal(err)
			}
			if err := topo.Apply(lab.Blackhole); err != nil {
				t.Fatal(err)
			}
			cut := time.Now()
			err := get()
			took := time.Since(cut)
			if err == nil {
				t.Fatal("GET through a cut path succeeded")
			}
			t.Logf("GET failed %v after the cut (T %v): %v", took, timeout, err)
			if tt.bound && took > timeout+slack {
				t.Errorf("request failed after %v, bound T = %v (+%v)", took, timeout, slack)
			}
			if tt.bound && !errors.Is(err, redial.ErrPeerSilent) && took > timeout {
				t.Errorf("the retry was not bounded: %v", err)
			}
		})
	}
}

func newTopology(t *testing.T) *lab.Topology {
	t.Helper()
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
