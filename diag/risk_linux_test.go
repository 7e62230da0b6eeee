package diag

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestIntegrationAtRiskFromSeenLoss: a connection in a namespace of its
// own sends 1000 small segments (64 bytes every millisecond, Nagle off:
// loopback passes whole GSO packets, so bulk data would be dropped 40
// segments at a time) over a loopback that drops 15 % of packets at
// random (nftables numgen), the loss is lifted, and the scan must read the
// retransmitted share back from tcp_info and call the now idle socket,
// keepalive 1s/1s/2 with a 2.6 s user timeout (flatline's T = 3 s), at
// risk: at 15 % loss each way its keepalive cycle fails with q² ≈ 0.077.
// The writes run with Linux's defaults (no user timeout: the loss cannot
// kill them); the options are set after.
// The estimate is bounded by what the kernel did, not asserted to equal 15 %.
func TestIntegrationAtRiskFromSeenLoss(t *testing.T) {
	name, path := testutil.NetNS(t, "risk")
	var client, server net.Conn
	err := kernel.InNetNS(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		d := net.Dialer{KeepAlive: -1}
		if client, err = d.Dial("tcp4", ln.Addr().String()); err != nil {
			return err
		}
		server, err = ln.Accept()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	defer server.Close()
	rc, err := client.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}

	undo := randomLossIn(t, path, 150)
	go io.Copy(io.Discard, server)
	info := func() *unix.TCPInfo {
		var i *unix.TCPInfo
		rc.Control(func(fd uintptr) { i, _ = kernel.ReadTCPInfo(int(fd)) })
		if i == nil {
			t.Fatal("no tcp_info")
		}
		return i
	}
	// Writes until the socket has sent twice RiskMinSegments (losses
	// merge queued writes into fewer segments), at most 20 s.
	tick := time.NewTicker(time.Millisecond)
	stop := time.Now().Add(20 * time.Second)
	for info().Segs_out < 2*RiskMinSegments && time.Now().Before(stop) {
		if _, err := client.Write(make([]byte, 64)); err != nil {
			t.Fatalf("write through 15 %% loss: %v", err)
		}
		<-tick.C // pacing, so that each write is a segment of its own
	}
	// The loss is lifted before waiting for the acknowledgements: a
	// segment lost five or six times in a row at 15 % has backed its
	// retransmission timer off to 6.4 or 12.8 s, and a wait through the
	// loss was once over 30 s in CI. Without the loss the next
	// retransmission is the last, so the wait is bounded by one RTO
	// (at most TCP_RTO_MAX, 120 s).
	undo()
	deadline := time.Now().Add(2 * time.Minute)
	for info().Unacked != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the writes were not acknowledged within 2 min of the loss lifted (%+v)", *info())
		}
		<-tick.C // polling the kernel's counter
	}
	tick.Stop()
	// The options go on once the loss is gone: at 15 % a 2.6 s user timeout
	// kills the connection while it writes (what the verdict warns of).
	var serr error
	rc.Control(func(fd uintptr) {
		serr = kernel.SetOptions(int(fd), kernel.Options{KeepAlive: true, Idle: time.Second, Interval: time.Second, Count: 2, UserTimeout: 2600 * time.Millisecond})
	})
	if serr != nil {
		t.Fatal(serr)
	}

	r, err := Scan(context.Background(), Options{NetNS: name, Max: 10 * time.Second})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	local := client.LocalAddr().String()
	for _, s := range r.Sockets {
		if s.Local.String() != local {
			continue
		}
		t.Logf("client: loss seen %.3f, %.3g false kills an hour, verdict %s: %s", s.LossSeen, s.FalseKillsPerHour, s.Verdict, s.Reason)
		if !s.RiskKnown {
			t.Fatalf("risk unknown after %d segments (%+v)", s.Info.SegsOut, s.Info)
		}
		// Retransmissions follow lost segments or lost ACKs: some, and
		// not more than the cap.
		if s.LossSeen <= 0.01 || s.LossSeen > RiskMaxLoss {
			t.Errorf("loss seen %.3f through a 15 %% lossy loopback, want within (0.01, %v]", s.LossSeen, RiskMaxLoss)
		}
		if s.Verdict != VerdictAtRisk {
			t.Errorf("verdict %s, want %s (%s)", s.Verdict, VerdictAtRisk, s.Reason)
		}
		return
	}
	t.Fatalf("client socket %s not in the scan of %s", local, name)
}

// randomLossIn makes the namespace at path drop permille of the packets it
// receives at random, and returns what removes it.
func randomLossIn(t *testing.T, path string, permille uint32) (undo func()) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	tab := c.AddTable(&nftables.Table{Name: "flt-risk", Family: nftables.TableFamilyINet})
	accept := nftables.ChainPolicyAccept
	// On input: a packet dropped on output fails the local send, and TCP
	// tries again without counting a retransmission.
	ch := c.AddChain(&nftables.Chain{Name: "in", Table: tab, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	c.AddRule(&nftables.Rule{Table: tab, Chain: ch, Exprs: []expr.Any{
		&expr.Numgen{Register: 1, Modulus: 1000, Type: unix.NFT_NG_RANDOM},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binary.BigEndian.AppendUint32(nil, permille)},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}})
	if err := c.Flush(); err != nil {
		f.Close()
		t.Skipf("nftables numgen in a namespace: %v", err)
	}
	return func() {
		defer f.Close()
		c.DelTable(tab)
		if err := c.Flush(); err != nil {
			t.Errorf("remove the loss table: %v", err)
		}
	}
}
