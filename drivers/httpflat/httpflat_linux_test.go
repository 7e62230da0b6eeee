package httpflat

import (
	"bufio"
	"context"
	"crypto/tls"
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
	"github.com/flatline-dev/flatline/drivers/netlab"
	"golang.org/x/sys/unix"
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
	base := &http.Transport{Protocols: new(http.Protocols)}
	base.Protocols.SetUnencryptedHTTP2(true)
	tr, err := New(base, flatline.Config{Timeout: timeout}, nil)
	if err != nil {
		t.Fatal(err)
	}
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

// TestIntegrationRequestWithinT: a GET on a pooled connection (HTTP/1.1
// in plaintext, HTTP/2 over TLS) when the path to the server is cut. The
// pooled connection dies on time; net/http then retries the GET on a new
// connection, whose dial into the cut path takes up to another T with a
// plain flatline.Dialer. With New's transport the retry gets only what is
// left of T, the request fails within T, and its error carries a
// dead-peer cause.
func TestIntegrationRequestWithinT(t *testing.T) {
	const timeout = 3 * time.Second
	for _, tt := range []struct {
		name  string
		h2    bool
		plain bool // a plain transport with flatline.Dialer: measured, not bounded
	}{
		{"HTTP/1.1", false, false},
		{"HTTP/2 TLS", true, false},
		{"HTTP/1.1 plain transport with flatline.Dialer", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			topo := netlab.New(t)
			ln, err := topo.Listen(443)
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(hold)}
			base := http.DefaultTransport.(*http.Transport).Clone()
			base.MaxIdleConnsPerHost = 7 // the user's own settings
			scheme := "http"
			if tt.h2 {
				conf, pool := netlab.TLSServer(t)
				srv.TLSConfig = conf
				base.TLSClientConfig = &tls.Config{RootCAs: pool}
				scheme = "https"
				go srv.ServeTLS(ln, "", "")
			} else {
				go srv.Serve(ln)
			}
			t.Cleanup(func() { srv.Close() })

			var rt http.RoundTripper
			var conns []*net.TCPConn // the user's dial function's, for logPath
			if tt.plain {
				d := &flatline.Dialer{Config: flatline.Config{Timeout: timeout}}
				base.DialContext = topo.Dial(d.DialContext)
				rt = base
			} else {
				dial := topo.Dial((&net.Dialer{}).DialContext)
				base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := dial(ctx, network, addr)
					if err == nil {
						conns = append(conns, c.(*net.TCPConn))
					}
					return c, err
				}
				tr, err := New(base, flatline.Config{Timeout: timeout}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tr.Base.MaxIdleConnsPerHost != 7 || tr.Base.IdleConnTimeout != 90*time.Second || tr.Base.TLSClientConfig == nil && tt.h2 {
					t.Fatalf("New dropped the user's settings: %+v", tr.Base)
				}
				rt = tr
			}
			client := &http.Client{Transport: rt}
			url := scheme + "://" + net.JoinHostPort(netlab.ServerAddr.String(), "443") + "/"
			get := func() (string, error) {
				resp, err := client.Get(url)
				if err != nil {
					return "", err
				}
				io.Copy(io.Discard, resp.Body)
				return resp.Proto, resp.Body.Close()
			}
			proto, err := get() // one pooled connection
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{false: "HTTP/1.1", true: "HTTP/2.0"}[tt.h2]; proto != want {
				t.Fatalf("got %s, want %s", proto, want)
			}
			logPath(t, conns)
			if err := topo.Partition(); err != nil {
				t.Fatal(err)
			}
			cut := time.Now()
			_, err = get()
			took := time.Since(cut)
			if err == nil {
				t.Fatal("GET through a cut path succeeded")
			}
			cause := flatline.Diagnose(nil, err)
			t.Logf("GET failed %v after the cut (T %v): %v (cause %v)", took.Round(time.Millisecond), timeout, err, cause)
			if tt.plain {
				return
			}
			if took > timeout+slack {
				t.Errorf("request failed after %v, bound T = %v (+%v)", took, timeout, slack)
			}
			var ce *flatline.CauseError
			if !cause.DeadPeer() || !errors.As(err, &ce) {
				t.Errorf("cause %v, want a dead-peer cause in a *flatline.CauseError", cause)
			}
		})
	}
}

// TestNewKeepsSettings: New keeps the caller's transport settings (or
// http.DefaultTransport's) and refuses dial hooks that hide the socket.
func TestNewKeepsSettings(t *testing.T) {
	cfg := flatline.Config{Timeout: 5 * time.Second}
	tr, err := New(nil, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := http.DefaultTransport.(*http.Transport)
	if tr.Base.MaxIdleConns != def.MaxIdleConns || tr.Base.IdleConnTimeout != def.IdleConnTimeout ||
		tr.Base.TLSHandshakeTimeout != def.TLSHandshakeTimeout || tr.Base.Proxy == nil || !tr.Base.ForceAttemptHTTP2 {
		t.Errorf("New(nil) lost http.DefaultTransport's settings: %+v", tr.Base)
	}
	base := &http.Transport{MaxConnsPerHost: 3, ResponseHeaderTimeout: time.Minute, HTTP2: &http.HTTP2Config{SendPingTimeout: time.Second}}
	tr, err = New(base, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HTTP2Config(cfg)
	if tr.Base.MaxConnsPerHost != 3 || tr.Base.ResponseHeaderTimeout != time.Minute ||
		tr.Base.HTTP2.SendPingTimeout != time.Second || tr.Base.HTTP2.PingTimeout != h2.PingTimeout {
		t.Errorf("New(base) = %+v, HTTP2 %+v: want the caller's settings, the ping timeout filled in", tr.Base, tr.Base.HTTP2)
	}
	if base.DialContext != nil || base.HTTP2.PingTimeout != 0 {
		t.Error("New changed the caller's transport")
	}
	base = &http.Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) { return nil, nil }}
	if _, err := New(base, cfg, nil); !errors.Is(err, ErrDialTLS) {
		t.Errorf("New with DialTLSContext: %v, want ErrDialTLS", err)
	}
}

// logPath logs the kernel's view of the connections before the cut: a
// late failure under load comes with a long smoothed RTT and RTO.
func logPath(t *testing.T, conns []*net.TCPConn) {
	for _, c := range conns {
		rc, err := c.SyscallConn()
		if err != nil {
			continue
		}
		rc.Control(func(fd uintptr) {
			if i, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				t.Logf("before the cut: state %d, rtt %v (var %v), rto %v", i.State, time.Duration(i.Rtt)*time.Microsecond,
					time.Duration(i.Rttvar)*time.Microsecond, time.Duration(i.Rto)*time.Microsecond)
			}
		})
	}
}
