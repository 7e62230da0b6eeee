package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/diag"
	"github.com/flatline-dev/flatline/enforce"
	"github.com/flatline-dev/flatline/internal/cgroup2"
	"golang.org/x/sys/unix"
)

// DialEnv, set together with EndpointEnv, makes RunEndpoint a dialer
// instead of a server: it prints "ready", waits for a line on its standard
// input, dials the address that line names with Go's zero net.Dialer, prints
// "fd N ino I" (its connected socket's descriptor and inode) or "error
// ERRNO MESSAGE" (ERRNO 0 when the error carries none), and holds the
// connection until its standard input closes. The lab's enforced cells
// start it inside a cgroup under enforce (a socket belongs to the cgroup of
// the process that made it); its applied cells run `flatline apply`
// (enforce.Apply) on it. The lab works on the same socket through a
// descriptor duplicated by package diag (diag.OpenProcess), not by code of
// its own.
const DialEnv = "FLATLINE_LAB_DIAL"

// runDialEndpoint is RunEndpoint when DialEnv is set.
func runDialEndpoint(ctx context.Context, out io.Writer) error {
	if _, err := fmt.Fprintln(out, "ready"); err != nil {
		return err
	}
	in := bufio.NewReader(os.Stdin)
	line, err := in.ReadString('\n')
	if err != nil {
		return nil // the lab went away before the dial
	}
	addr := strings.TrimSpace(line)
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		var errno syscall.Errno
		errors.As(err, &errno)
		_, werr := fmt.Fprintf(out, "error %d %s\n", errno, strings.ReplaceAll(err.Error(), "\n", " "))
		return werr
	}
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	var fd uintptr
	rc.Control(func(f uintptr) { fd = f })
	var st unix.Stat_t
	if err := unix.Fstat(int(fd), &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	if _, err := fmt.Fprintf(out, "fd %d ino %d\n", fd, st.Ino); err != nil {
		return err
	}
	io.Copy(io.Discard, in) // until the cell ends
	return nil
}

// dialFunc dials as net.Dialer.DialContext does.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// cellClient is how a cell's client dials: in this process, or (enforced,
// applied) through a dial helper process.
type cellClient struct {
	dial   dialFunc
	helper *dialHelper // nil: dial dials in this process
	undo   func()
}

// newCellClient returns the client of cell. Enforced cells get a cgroup
// of their own under enforce (the plan of t) and a dial helper inside it;
// applied cells a dial helper outside any (fixed mid-life by
// applyMidLife); the others dial in this process (dialer). Helpers are
// started now, in the client namespace, so that a connect cell's clock
// does not count a process start.
func newCellClient(ctx context.Context, topo *Topology, opts Options, cell Cell, t time.Duration) (*cellClient, error) {
	if cell.Config != Enforced && cell.Config != Applied {
		dial, err := dialer(cell.Config, t)
		return &cellClient{dial: dial, undo: func() {}}, err
	}
	var g *cgroup2.Group
	undo := func() {}
	if cell.Config == Enforced {
		if opts.Enforce == nil {
			return nil, errors.New("lab: Options.Enforce is nil: nothing to attach flatline enforce with")
		}
		cgroup2.Sweep()
		var err error
		if g, err = cgroup2.New(strings.TrimPrefix(topo.Name(), Prefix)); err != nil {
			return nil, err
		}
		e, err := opts.Enforce(g.Path, flatline.Config{Timeout: t})
		if err != nil {
			g.Remove()
			return nil, err
		}
		undo = func() {
			e.Close()
			g.Remove()
		}
	}
	var h *dialHelper
	if err := topo.Client.Do(func() error {
		var err error
		h, err = startDialHelper(ctx, opts.Endpoint, g)
		return err
	}); err != nil {
		undo()
		return nil, err
	}
	return &cellClient{dial: h.dial, helper: h, undo: func() { h.stop(); undo() }}, nil
}

// applyMidLife is `flatline apply` on an applied cell's dial helper, once
// its workload runs: enforce.Apply with the plan of t. Other cells do
// nothing.
func (c *cellClient) applyMidLife(ctx context.Context, cell Cell, t time.Duration) error {
	if cell.Config != Applied || c.helper == nil {
		return nil
	}
	rep, err := enforce.Apply(ctx, c.helper.cmd.Process.Pid, enforce.ApplyOptions{Config: flatline.Config{Timeout: t}})
	if err != nil {
		return err
	}
	for _, s := range rep.Sockets {
		if s.Err != nil {
			return fmt.Errorf("fd %d: %w", s.FD, s.Err)
		}
	}
	if rep.Changed == 0 {
		return fmt.Errorf("changed no socket of pid %d", rep.PID)
	}
	return nil
}

// dialHelper is a dial endpoint process (DialEnv), started and waiting
// for its dial.
type dialHelper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startDialHelper starts the dial endpoint in g (nil: this cgroup), on the
// calling thread's network namespace, and waits until it is ready.
func startDialHelper(ctx context.Context, argv []string, g *cgroup2.Group) (*dialHelper, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), EndpointEnv+"=dial", DialEnv+"=1")
	cmd.Stderr = os.Stderr
	if g != nil {
		attr, f, err := g.SysProcAttr()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.SysProcAttr = attr
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the dial endpoint: %w", err)
	}
	h := &dialHelper{cmd: cmd, stdin: stdin, out: bufio.NewReader(out)}
	if line, err := h.out.ReadString('\n'); strings.TrimSpace(line) != "ready" {
		h.stop()
		return nil, fmt.Errorf("dial endpoint said %q (%v), want ready", line, err)
	}
	return h, nil
}

// dial tells the helper to dial addr and takes its connected socket.
func (h *dialHelper) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	if _, err := fmt.Fprintln(h.stdin, addr); err != nil {
		return nil, fmt.Errorf("dial endpoint: %w", err)
	}
	// Go's zero dialer has no deadline of its own: ctx's ends the helper.
	stop := context.AfterFunc(ctx, func() { h.cmd.Process.Kill() })
	line, _ := h.out.ReadString('\n')
	stop()
	line = strings.TrimSpace(line)
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return nil, dialError(msg)
	}
	var fd int
	var ino uint64
	if _, err := fmt.Sscanf(line, "fd %d ino %d", &fd, &ino); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("dial endpoint said %q", line)
	}
	proc, err := diag.OpenProcess(h.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	defer proc.Close()
	dup, err := proc.Socket(fd, ino)
	if err != nil {
		return nil, err
	}
	file := os.NewFile(uintptr(dup), "helper-conn")
	defer file.Close()
	return net.FileConn(file)
}

// stop ends the helper: its standard input closes, it closes its
// connection and exits.
func (h *dialHelper) stop() {
	h.stdin.Close()
	h.cmd.Wait()
}

// dialError is the error the helper reported, "ERRNO MESSAGE": the
// message, wrapping the errno (when not 0) so that Diagnose can classify
// it.
func dialError(report string) error {
	num, msg, _ := strings.Cut(report, " ")
	var errno syscall.Errno
	if _, err := fmt.Sscanf(num, "%d", &errno); err != nil || errno == 0 {
		return errors.New(report)
	}
	return &helperError{msg: msg, errno: errno}
}

// helperError is a dial helper's error: its text, and its errno.
type helperError struct {
	msg   string
	errno syscall.Errno
}

func (e *helperError) Error() string { return e.msg }
func (e *helperError) Unwrap() error { return e.errno }
