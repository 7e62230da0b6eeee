package diag

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/bpfiter"
	"github.com/flatline-dev/flatline/internal/kernel"
)

// TestIntegrationIteratorMatchesInetDiag: the socket iterator stands in
// for the inet_diag dump (one walk of the sockets, not two) only if it
// reports what inet_diag does. Every helper scenario (idle with and
// without keepalive, a user timeout, retransmitting into a blackhole, a
// zero window, SYN-SENT) is read both ways, the dump first (it gives the
// socket its cookie), the iterator within the same few milliseconds:
// fields that do not move are equal; the times that do agree within the
// time between the readings and a tick.
func TestIntegrationIteratorMatchesInetDiag(t *testing.T) {
	h := startHelper(t, "ka-idle", "no-ka", "ut", "stuck", "stuck-ut", "zero-win", "syn-sent")
	o := Options{PID: h.pid()}
	waitFor(t, o, 10*time.Second, func(r *Report) bool {
		st, zw := find(r, h.socks["stuck"]), find(r, h.socks["zero-win"])
		return st != nil && zw != nil && st.Retransmits() >= 1 && zw.Timer == TimerPersist
	})
	// An IPv6 connection in the helper's namespace too: its addresses
	// come from other fields.
	nsPath := fmt.Sprintf("/proc/%d/ns/net", h.pid())
	var v6 []net.Conn
	err := kernel.InNetNS(nsPath, func() error {
		ln, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		c, err := net.Dial("tcp6", ln.Addr().String())
		if err != nil {
			return err
		}
		s, err := ln.Accept()
		if err != nil {
			c.Close()
			return err
		}
		v6 = append(v6, c, s)
		return nil
	})
	if err != nil {
		t.Skipf("no IPv6 loopback in the helper's namespace: %v", err)
	}
	defer func() {
		for _, c := range v6 {
			c.Close()
		}
	}()
	h.socks["v6"] = helperSocket{Local: v6[0].LocalAddr().String(), Remote: v6[0].RemoteAddr().String()}
	h.socks["v6-server"] = helperSocket{Local: v6[1].LocalAddr().String(), Remote: v6[1].RemoteAddr().String()}
	o = Options{NetNS: nsPath}
	tg, err := openTarget(o)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.conn.Close()
	defer tg.kopts.close()
	if !tg.kopts.dumps(DefaultStates) {
		t.Skipf("socket iterator not open here (%v): nothing to compare", tg.kopts.err)
	}
	dumped := map[string]DiagMsg{}
	start := time.Now()
	if _, err := tg.conn.dumpRaw(DefaultStates, func(payload []byte) error {
		var m DiagMsg
		var info TCPInfo
		if err := decodeDiagMsg(payload, &m, &info); err != nil {
			return err
		}
		if m.Info != nil {
			cp := info
			m.Info = &cp
		}
		dumped[m.Local.String()+" "+m.Remote.String()] = m
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	iterated := map[string]DiagMsg{}
	if err := tg.kopts.readConns(func(c *bpfiter.Conn, _ *flatline.Settings) {
		var m DiagMsg
		var info TCPInfo
		diagMsgOf(c, &m, &info)
		iterated[m.Local.String()+" "+m.Remote.String()] = m
	}); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start) + time.Duration(tg.host.HZ/100+1)*10*time.Millisecond // plus a tick or ten ms
	slack := uint32(elapsed.Milliseconds()) + 4
	near := func(a, b uint32) bool { return a <= b+slack && b <= a+slack }
	for name, hs := range h.socks {
		key := hs.Local + " " + hs.Remote
		d, ok1 := dumped[key]
		it, ok2 := iterated[key]
		if !ok1 || !ok2 {
			t.Errorf("%s: in the dump %v, from the iterator %v", name, ok1, ok2)
			continue
		}
		if d.Family != it.Family || d.State != it.State || d.Timer != it.Timer || d.Inode != it.Inode || d.UID != it.UID ||
			d.Cookie != it.Cookie || d.RQueue != it.RQueue || d.WQueue != it.WQueue || d.Shutdown != it.Shutdown {
			t.Errorf("%s: dump %+v\niterator %+v", name, d, it)
		}
		// A timer the dump saw due within the readings' window may have
		// fired and been armed again (a zero-window probe's backs off to
		// hundreds of ms) before the iterator read it.
		if !near(d.Expires, it.Expires) && d.Expires > slack {
			t.Errorf("%s: expires %d ms in the dump, %d from the iterator (slack %d)", name, d.Expires, it.Expires, slack)
		}
		if d.Retrans > it.Retrans || it.Retrans > d.Retrans+1 {
			t.Errorf("%s: idiag_retrans %d in the dump, %d from the iterator", name, d.Retrans, it.Retrans)
		}
		di, ii := d.Info, it.Info
		if di == nil || ii == nil {
			t.Errorf("%s: tcp_info in the dump %v, from the iterator %v", name, di != nil, ii != nil)
			continue
		}
		if di.State != ii.State || di.Unacked != ii.Unacked || di.NotsentBytes != ii.NotsentBytes || di.SndWnd != ii.SndWnd ||
			di.HasSegsOut != ii.HasSegsOut || di.HasSndWnd != ii.HasSndWnd {
			t.Errorf("%s: tcp_info in the dump %+v\nfrom the iterator %+v", name, *di, *ii)
		}
		// A retransmission between the readings moves these by one step.
		if ii.Retransmits < di.Retransmits || ii.Retransmits > di.Retransmits+1 || ii.Backoff < di.Backoff || ii.Backoff > di.Backoff+1 ||
			ii.TotalRetrans < di.TotalRetrans || ii.TotalRetrans > di.TotalRetrans+1 || ii.SegsOut < di.SegsOut || ii.SegsOut > di.SegsOut+2 {
			t.Errorf("%s: counters in the dump %+v\nfrom the iterator %+v", name, *di, *ii)
		}
		if ii.Backoff == di.Backoff && di.RTO != ii.RTO {
			t.Errorf("%s: rto %d µs in the dump, %d from the iterator", name, di.RTO, ii.RTO)
		}
		for _, p := range [][2]uint32{{di.LastDataSent, ii.LastDataSent}, {di.LastDataRecv, ii.LastDataRecv}, {di.LastAckRecv, ii.LastAckRecv}} {
			if !near(p[0], p[1]) {
				t.Errorf("%s: last_data_sent/recv, last_ack_recv in the dump %d %d %d, from the iterator %d %d %d (slack %d ms)",
					name, di.LastDataSent, di.LastDataRecv, di.LastAckRecv, ii.LastDataSent, ii.LastDataRecv, ii.LastAckRecv, slack)
				break
			}
		}
	}
}
