package topology

import (
	"time"

	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestIntegrationHostQueues: after HostQueues both endpoints' interfaces
// have a pfifo_fast root qdisc (a veth starts with none) and the asked
// txqueuelen, the path still carries traffic, and a closed topology
// refuses.
func TestIntegrationHostQueues(t *testing.T) {
	topo := newTestTopology(t)
	const packets = 20000
	if err := topo.HostQueues(packets); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []*Namespace{topo.Client, topo.Server} {
		fd, err := ns.Fd()
		if err != nil {
			t.Fatal(err)
		}
		h, err := netlink.NewHandleAt(netns.NsHandle(fd))
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		l, err := h.LinkByName(endpointLink)
		if err != nil {
			h.Close()
			t.Fatal(err)
		}
		if got := l.Attrs().TxQLen; got != packets {
			t.Errorf("%s: txqueuelen %d, want %d", ns.Name, got, packets)
		}
		qs, err := h.QdiscList(l)
		h.Close()
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		root := ""
		for _, q := range qs {
			kinds = append(kinds, q.Type())
			if q.Attrs().Parent == netlink.HANDLE_ROOT {
				root = q.Type()
			}
		}
		if root != "pfifo_fast" {
			t.Errorf("%s: root qdisc %q (all: %v), want pfifo_fast", ns.Name, root, kinds)
		}
	}
	c, err := dial(topo, echoServer(t, topo), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	c.Close()
	topo.Close()
	if err := topo.HostQueues(packets); err == nil {
		t.Error("HostQueues on a closed topology: no error")
	}
}
