package topology

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// RandomLoss makes the router drop l of the packets it forwards each way,
// at random (nftables "numgen random mod 1000 < N counter drop" in the
// fault chain), until Heal. It works on any kernel with nf_tables: no
// netem.
func (t *Topology) RandomLoss(l Loss) error {
	return t.addLossRules(l, nil)
}

// RandomLossOnPorts is RandomLoss for TCP segments from or to a port in
// [lo, hi] only: the rest of the traffic passes. Two rules, one per
// direction (destination port, source port), each with its own counter
// (LossDrops).
func (t *Topology) RandomLossOnPorts(l Loss, lo, hi uint16) error {
	if lo > hi {
		return fmt.Errorf("lab: random loss on ports %d-%d: the first port is above the last", lo, hi)
	}
	return t.addLossRules(l, &[2]uint16{lo, hi})
}

func (t *Topology) addLossRules(l Loss, ports *[2]uint16) error {
	if l == 0 || l >= LossScale {
		return fmt.Errorf("lab: random loss %d per %d: want 1 to %d", uint32(l), LossScale, LossScale-1)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.nft()
	if err != nil {
		return err
	}
	if ports == nil {
		c.AddRule(&nftables.Rule{Table: t.table(), Chain: t.chain(chainFaults), Exprs: lossRule(l, nil)})
	} else {
		for _, off := range []uint32{tcpDport, tcpSport} {
			c.AddRule(&nftables.Rule{Table: t.table(), Chain: t.chain(chainFaults), Exprs: lossRule(l, tcpPortIn(off, ports[0], ports[1]))})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("lab: random loss %v: %w", l, err)
	}
	return nil
}

// Offsets of the ports in the TCP header.
const (
	tcpSport = 0
	tcpDport = 2
)

// lossRule is match, then "numgen random mod 1000 < l counter drop". The
// generator's number is in host byte order; nftables compares registers
// as big-endian bytes, so it is converted first (as nft itself does).
func lossRule(l Loss, match []expr.Any) []expr.Any {
	return append(match,
		&expr.Numgen{Register: 1, Modulus: LossScale, Type: unix.NFT_NG_RANDOM},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binary.BigEndian.AppendUint32(nil, uint32(l))},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	)
}

// tcpPortIn matches TCP segments whose port at header offset off (source
// or destination) is in [lo, hi].
func tcpPortIn(off uint32, lo, hi uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: binary.BigEndian.AppendUint16(nil, lo), ToData: binary.BigEndian.AppendUint16(nil, hi)},
	}
}

// LossDrops returns the packets the port-bound loss rules have dropped,
// by the first port of their range (both directions summed).
func (t *Topology) LossDrops() (map[uint16]uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.nft()
	if err != nil {
		return nil, err
	}
	rules, err := c.GetRules(t.table(), t.chain(chainFaults))
	if err != nil {
		return nil, fmt.Errorf("lab: read loss counters: %w", err)
	}
	drops := map[uint16]uint64{}
	for _, r := range rules {
		var lo uint16
		var ranged bool
		var n uint64
		for _, e := range r.Exprs {
			switch e := e.(type) {
			case *expr.Range:
				if len(e.FromData) == 2 {
					lo, ranged = binary.BigEndian.Uint16(e.FromData), true
				}
			case *expr.Counter:
				n = e.Packets
			}
		}
		if ranged {
			drops[lo] += n
		}
	}
	return drops, nil
}
