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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/cgroup2"
	"github.com/flatline-dev/flatline/internal/kernel"
	"golang.org/x/sys/unix"
)

// DialEnv, set together with EndpointEnv, makes RunEndpoint a dialer
// instead of a server: it dials the address in DialEnv with Go's zero
// net.Dialer, prints "fd N" (its connected socket's descriptor) or
// "error MESSAGE", and waits for its standard input to close. The lab's
// enforced cells start it inside a cgroup under enforce and take the
// socket with pidfd_getfd: a socket belongs to the cgroup of the process
// that made it.
const DialEnv = "FLATLINE_LAB_DIAL"

// runDialEndpoint is RunEndpoint when DialEnv is set.
func runDialEndpoint(ctx context.Context, addr string, out io.Writer) error {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		_, werr := fmt.Fprintf(out, "error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return werr
	}
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	var fd uintptr
	rc.Control(func(f uintptr) { fd = f })
	if _, err := fmt.Fprintf(out, "fd %d\n", fd); err != nil {
		return err
	}
	io.Copy(io.Discard, os.Stdin) // until the lab has its copy
	return nil
}

// cellDialer returns the client's dial function for cell and what to undo
// when the cell ends. Applied cells dial as go-default. Enforced cells get a cgroup of their own under
// enforce (the plan of t) and dial from a helper process inside it; the
// others dial in this process (dialer).
func cellDialer(ctx context.Context, topo *Topology, opts Options, cell Cell, t time.Duration) (func(context.Context, string, string) (net.Conn, error), func(), error) {
	switch cell.Config {
	case Applied:
		dial, err := dialer(GoDefault, t) // fixed mid-life by applyMidLife
		return dial, func() {}, err
	case Enforced:
	default:
		dial, err := dialer(cell.Config, t)
		return dial, func() {}, err
	}
	if opts.Enforce == nil {
		return nil, nil, errors.New("lab: Options.Enforce is nil: nothing to attach flatline enforce with")
	}
	cgroup2.Sweep()
	g, err := cgroup2.New(strings.TrimPrefix(topo.Name(), Prefix))
	if err != nil {
		return nil, nil, err
	}
	e, err := opts.Enforce(g.Path, flatline.Config{Timeout: t})
	if err != nil {
		g.Remove()
		return nil, nil, err
	}
	undo := func() {
		e.Close()
		g.Remove()
	}
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		return dialInCgroup(ctx, opts.Endpoint, g, addr)
	}
	return dial, undo, nil
}

// dialInCgroup runs the dial endpoint in g, on the calling thread's network
// namespace (the caller is inside Topology.Client.Do), and takes its
// connected socket.
func dialInCgroup(ctx context.Context, argv []string, g *cgroup2.Group, addr string) (net.Conn, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), EndpointEnv+"=dial", DialEnv+"="+addr)
	cmd.Stderr = os.Stderr
	attr, f, err := g.SysProcAttr()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd.SysProcAttr = attr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the dial endpoint in %s: %w", g.Path, err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, _ := bufio.NewReader(out).ReadString('\n')
	line = strings.TrimSpace(line)
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return nil, errors.New(msg)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(line, "fd "))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("dial endpoint said %q", line)
	}
	fd, err := takeFD(cmd.Process.Pid, n, 0)
	if err != nil {
		return nil, err
	}
	file := os.NewFile(uintptr(fd), "enforced-conn")
	defer file.Close()
	return net.FileConn(file)
}

// applyMidLife is what `flatline apply` does to each socket, on the lab's
// own connection of an applied cell once its workload runs: a descriptor
// of the socket taken with pidfd_getfd, the plan of t set on it. Other
// cells do nothing.
func applyMidLife(cell Cell, conn net.Conn, t time.Duration) error {
	if cell.Config != Applied {
		return nil
	}
	plan, err := flatline.Config{Timeout: t}.Plan()
	if err != nil {
		return err
	}
	rc, err := conn.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	var fd int
	rc.Control(func(f uintptr) { fd = int(f) })
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	dup, err := takeFD(os.Getpid(), fd, st.Ino)
	if err != nil {
		return err
	}
	defer unix.Close(dup)
	return kernel.SetOptions(dup, kernel.Options(plan.Settings))
}

// takeFD duplicates descriptor fd of process pid into this one with
// pidfd_getfd (Linux 5.6), checking that it is the socket with inode ino
// (0: any).
func takeFD(pid, fd int, ino uint64) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pidfd)
	dup, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_getfd", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(dup, &st); err != nil || ino != 0 && st.Ino != ino {
		unix.Close(dup)
		return -1, fmt.Errorf("lab: fd %d of pid %d is no longer socket %d", fd, pid, ino)
	}
	return dup, nil
}
