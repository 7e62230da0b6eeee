package topology

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// chainMiddlebox holds the middlebox's rules in the router's table.
const chainMiddlebox = "middlebox"

// establishedTimeout is the router namespace's connection-tracking sysctl
// for established TCP flows (per network namespace, in seconds).
const establishedTimeout = "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established"

// Middlebox makes the router a stateful middlebox: it tracks connections
// and forgets an established one after idle without a packet (rounded up
// to whole seconds, the sysctl's unit; at least 1 s), and it drops what it
// cannot place: packets conntrack calls invalid, and the packets of flows
// it does not know that are not a SYN (an expired flow's next segment).
// Call it before the connection is made: the middlebox learns a flow from
// its handshake. The timeout is set in the router's namespace only.
func (t *Topology) Middlebox(idle time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.nft()
	if err != nil {
		return err
	}
	accept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{
		Name: chainMiddlebox, Table: t.table(), Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(-5), Policy: &accept,
	})
	for _, r := range middleboxRules() {
		c.AddRule(&nftables.Rule{Table: t.table(), Chain: ch, Exprs: r})
	}
	if err := c.Flush(); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
			return &UnsupportedError{Feature: "connection tracking in nftables (nf_conntrack, nft_ct)", Err: err}
		}
		return fmt.Errorf("lab: middlebox: %w", err)
	}
	secs := int(math.Ceil(idle.Seconds()))
	if secs < 1 {
		secs = 1
	}
	// The sysctl exists once the ct rules above have loaded nf_conntrack.
	return t.Router.Do(func() error {
		err := os.WriteFile(establishedTimeout, []byte(strconv.Itoa(secs)+"\n"), 0o644)
		if errors.Is(err, os.ErrNotExist) {
			return &UnsupportedError{Feature: "connection tracking sysctls (nf_conntrack)", Err: err}
		}
		if err != nil {
			return fmt.Errorf("lab: middlebox: %w", err)
		}
		return nil
	})
}

// MiddleboxDrops returns how many packets the middlebox has dropped.
func (t *Topology) MiddleboxDrops() (uint64, error) {
	return t.counted(chainMiddlebox)
}

// middleboxRules: "ct state invalid counter drop" and "ct state new tcp
// flags & (fin|syn|rst|ack) != syn counter drop".
func middleboxRules() [][]expr.Any {
	ctState := func(bit uint32) []expr.Any {
		return []expr.Any{
			&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(bit), Xor: binaryutil.NativeEndian.PutUint32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		}
	}
	drop := []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}
	invalid := append(ctState(expr.CtStateBitINVALID), drop...)
	unknown := append(ctState(expr.CtStateBitNEW),
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x17}, Xor: []byte{0}}, // FIN SYN RST ACK
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0x02}},                                 // not a bare SYN
	)
	unknown = append(unknown, drop...)
	return [][]expr.Any{invalid, unknown}
}
