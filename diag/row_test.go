package diag

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// packed packs socks as a scan keeps them: rows, and the owners by
// inode. Each row's inode is its socket's index + 1 (so that owners find
// their socket whatever the test put in Inode); unpacked returns the
// sockets in the rows' order.
func packed(socks []Socket) ([]row, *owners) {
	rows := make([]row, len(socks))
	var recs []ownerOf
	bounds := map[flatline.Bound]*flatline.Bound{}
	for i := range socks {
		s := socks[i]
		rows[i].packMsg(&s.DiagMsg)
		rows[i].packJudged(&s, shared(bounds, s.Bound))
		rows[i].inode = uint64(i + 1)
		for _, o := range s.Owners {
			recs = append(recs, ownerOf{uint64(i + 1), o})
		}
	}
	own := groupOwners(recs)
	attachOwners(rows, &own)
	return rows, &own
}

func unpacked(rows []row, orig []Socket) []Socket {
	out := make([]Socket, len(rows))
	for i := range rows {
		out[i] = orig[rows[i].inode-1]
	}
	return out
}

func orderSockets(socks []Socket) {
	rows, own := packed(socks)
	order(rows, own)
	copy(socks, unpacked(rows, socks))
}

func summarizeSockets(socks []Socket, maxWait time.Duration) Summary {
	rows, _ := packed(socks)
	return summarize(rows, maxWait)
}

// TestRowRoundTrip: a socket packed into a row and unpacked is the same
// socket (owners found again by inode, the bound shared).
func TestRowRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	socks := make([]Socket, 3000)
	for i := range socks {
		socks[i] = randomSocket(r, "x")
		socks[i].Inode = uint64(i + 1)
		socks[i].Retrans = r.IntN(256)
		socks[i].Shutdown = r.IntN(5) - 1
		socks[i].Cookie = r.Uint64()
		// The kernel reports no zone.
		socks[i].Local = netip.AddrPortFrom(socks[i].Local.Addr().WithZone(""), socks[i].Local.Port())
		socks[i].Remote = netip.AddrPortFrom(socks[i].Remote.Addr().WithZone(""), socks[i].Remote.Port())
	}
	rows, own := packed(socks)
	for i := range rows {
		var s Socket
		rows[i].socket(&s, own)
		if diff := cmp.Diff(socks[i], s, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.AddrPort{}), cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
			t.Fatalf("socket %d (-packed +unpacked):\n%s", i, diff)
		}
	}
}

// TestCompactReportWritesTheSame: a report written from its rows
// (ScanCompact's) is byte for byte the report written from its Sockets.
func TestCompactReportWritesTheSame(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	socks := make([]Socket, 500)
	for i := range socks {
		socks[i] = randomSocket(r, "日本語 x")
		socks[i].Inode = uint64(i + 1)
		socks[i].Local = netip.AddrPortFrom(socks[i].Local.Addr().WithZone(""), socks[i].Local.Port())
		socks[i].Remote = netip.AddrPortFrom(socks[i].Remote.Addr().WithZone(""), socks[i].Remote.Port())
	}
	rows, own := packed(socks)
	order(rows, own)
	compact := &Report{Namespace: "blue", Max: 30 * time.Second, Host: flatline.LinuxDefaults(), Notes: []string{"n"}, rows: rows, own: own}
	compact.Summary = summarize(rows, compact.Max)
	full := *compact
	full.rows = append([]row(nil), rows...)
	full.expand()
	if full.Sockets == nil || full.rows != nil {
		t.Fatal("expand kept the rows")
	}
	for _, w := range []func(*Report, *bytes.Buffer) error{
		func(r *Report, b *bytes.Buffer) error { return r.WriteJSON(b) },
		func(r *Report, b *bytes.Buffer) error { return r.WriteText(b) },
	} {
		var a, b bytes.Buffer
		if err := w(compact, &a); err != nil {
			t.Fatal(err)
		}
		if err := w(&full, &b); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Fatalf("compact and expanded reports differ:\n%s\n%s", a.String()[:min(a.Len(), 400)], b.String()[:min(b.Len(), 400)])
		}
	}
}
