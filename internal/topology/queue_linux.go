package topology

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// HostQueues gives the client's and the server's interface a transmit
// queue of the given length in packets (txqueuelen; at least 1000, the
// kernel's default): pfifo_fast, the kernel's own default qdisc, as every
// real host's NIC has one (a veth has none: noqueue).
//
// It matters to TCP. Without a qdisc, a packet that the veth cannot hand
// to its peer (the peer's per-CPU input backlog, net.core.netdev_max_backlog,
// is full) fails the sender's transmit call, and TCP treats that as local
// congestion: a keepalive probe so refused is not counted and is retried
// TCP_RESOURCE_PROBE_INTERVAL (HZ/2) later, so the sending host paces a
// burst on its own. Behind a qdisc the send succeeds as on a real NIC and
// a packet the next hop drops is lost on the wire, unseen by TCP: a probe
// that went out and was never answered.
//
// A NIC drains its queue at line rate (20,000 keepalive probes take about
// 1 ms at 10 Gb/s), faster than CPUs fill it; a veth's queue is drained by
// the CPUs themselves, and one CPU filling it while the other drains can
// overflow the default 1000, which TCP would see again. A caller expecting
// bursts of n packets passes n.
func (t *Topology) HostQueues(packets int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	for _, ns := range []*Namespace{t.Client, t.Server} {
		if err := hostQueue(ns, max(packets, 1000)); err != nil {
			return err
		}
	}
	return nil
}

// netlink opens a netlink handle in the namespace.
func (n *Namespace) netlink() (*netlink.Handle, error) {
	fd, err := n.Fd()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	h, err := netlink.NewHandleAt(netns.NsHandle(fd))
	if err != nil {
		return nil, fmt.Errorf("lab: netlink in %s: %w", n.Name, err)
	}
	return h, nil
}

func hostQueue(ns *Namespace, packets int) error {
	h, err := ns.netlink()
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(endpointLink)
	if err != nil {
		return fmt.Errorf("lab: find link %s in %s: %w", endpointLink, ns.Name, err)
	}
	// pfifo_fast sizes its queue from the device's txqueuelen when made.
	if err := h.LinkSetTxQLen(l, packets); err != nil {
		return fmt.Errorf("lab: txqueuelen %d on %s in %s: %w", packets, endpointLink, ns.Name, err)
	}
	q := &netlink.PfifoFast{QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: l.Attrs().Index,
		Handle:    netlink.MakeHandle(1, 0),
		Parent:    netlink.HANDLE_ROOT,
	}}
	if err := h.QdiscAdd(q); err != nil {
		return fmt.Errorf("lab: pfifo_fast on %s in %s: %w", endpointLink, ns.Name, err)
	}
	return nil
}
