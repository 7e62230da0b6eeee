package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/flatline-dev/flatline"
)

// runMiddlebox measures a middlebox-expiry cell: the router forgets flows
// idle for MiddleboxTimeout; the client's connection stays idle for
// middleboxSoak, then writes a request. It survives if the peer
// acknowledges the request within middleboxAnswer; it is lost if not (the
// middlebox dropped it) or if it failed while idle.
func runMiddlebox(ctx context.Context, opts Options, cell Cell) (CellResult, error) {
	t := opts.Timeout
	r := CellResult{Workload: cell.Workload, Fault: cell.Fault, Config: cell.Config,
		CapS: (middleboxSoak + middleboxAnswer).Seconds()}
	r.Rule = fmt.Sprintf("the middlebox forgets a flow idle for %v: a keepalive idle below that keeps it (flatline: Config.MaxIdle)", MiddleboxTimeout)
	fail := func(err error) (CellResult, error) {
		r.Verdict = Errored
		r.Error = err.Error()
		return r, fmt.Errorf("lab: cell %s: %w", cell.Name(), err)
	}
	topo, err := New(ctx)
	if err != nil {
		return fail(err)
	}
	defer topo.Close()
	if err := topo.Middlebox(MiddleboxTimeout); err != nil {
		return fail(err)
	}
	server, err := startEndpoint(ctx, topo, opts.Endpoint, cell, t)
	if err != nil {
		return fail(err)
	}
	defer server.stop()
	dial, err := dialer(cell.Config, t)
	if err != nil {
		return fail(err)
	}
	cellCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	addr := net.JoinHostPort(topo.ServerAddr.String(), strconv.Itoa(endpointPort))
	var conn net.Conn
	if err := topo.Client.Do(func() error {
		var err error
		conn, err = dial(cellCtx, "tcp", addr)
		return err
	}); err != nil {
		return fail(fmt.Errorf("dial through the middlebox: %w", err))
	}
	defer conn.Close()
	start := time.Now()
	first := make(chan event, 1)
	startWorkload(cellCtx, conn, Idle, 0, first)

	lost := func(at time.Time, why string) (CellResult, error) {
		r.Verdict = Lost
		r.DetectedS = seconds(at.Sub(start))
		drops, _ := topo.MiddleboxDrops()
		r.Error = fmt.Sprintf("%s (the middlebox dropped %d packets)", why, drops)
		return r, nil
	}
	select {
	case e := <-first:
		r.Cause = flatline.Diagnose(conn, e.err).String() // the middlebox's drops killed it while idle
		return lost(e.at, "failed while idle: "+e.err.Error())
	case <-time.After(middleboxSoak):
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	before := tcpInfo(conn)
	if before == nil {
		return fail(errors.New("no TCP_INFO on the client's connection"))
	}
	if _, err := conn.Write([]byte("request after idle\n")); err != nil {
		return lost(time.Now(), "request after idle failed: "+err.Error())
	}
	deadline := time.Now().Add(middleboxAnswer)
	for time.Now().Before(deadline) {
		if info := tcpInfo(conn); info != nil && info.Unacked == 0 && info.Bytes_acked > before.Bytes_acked {
			r.Verdict = Survived
			return r, nil
		}
		select {
		case e := <-first:
			r.Cause = flatline.Diagnose(conn, e.err).String()
			return lost(e.at, "request after idle failed: "+e.err.Error())
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	return lost(time.Now(), fmt.Sprintf("request after %v idle not acknowledged within %v", middleboxSoak, middleboxAnswer))
}
