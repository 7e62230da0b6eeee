package topology

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Shape puts a netem qdisc with s on both of the router's links, so each
// direction of the path gets s (a round trip twice s.Delay). Call it
// before the connection is made: the handshake then measures the path.
// A kernel without netem (CONFIG_NET_SCH_NETEM) gets an error matching
// ErrNotSupported.
func (t *Topology) Shape(s Shaping) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	for _, name := range []string{RouterClientLink, RouterServerLink} {
		l, err := t.router.LinkByName(name)
		if err != nil {
			return fmt.Errorf("lab: shape %s: %w", name, err)
		}
		q := netlink.NewNetem(netlink.QdiscAttrs{
			LinkIndex: l.Attrs().Index,
			Handle:    netlink.MakeHandle(1, 0),
			Parent:    netlink.HANDLE_ROOT,
		}, netlink.NetemQdiscAttrs{
			Latency: uint32(s.Delay.Microseconds()),
			Jitter:  uint32(s.Jitter.Microseconds()),
			Rate64:  s.RateBytes,
			Limit:   10000, // packets queued: a long path holds more than the default 1000
		})
		if err := t.router.QdiscAdd(q); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
				return &UnsupportedError{Feature: "netem (sch_netem, CONFIG_NET_SCH_NETEM) for path faults; this kernel has none: run them in a guest (flatline lab --kernel)", Err: err}
			}
			return fmt.Errorf("lab: netem on %s: %w", name, err)
		}
	}
	return nil
}

// longerThan matches IPv4 packets whose total length is above n bytes.
func longerThan(n uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpGt, Register: 1, Data: binary.BigEndian.AppendUint16(nil, n)},
	}
}
