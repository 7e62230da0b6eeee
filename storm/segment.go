package storm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Link types (LINKTYPE_* of pcap and pcapng) the decoder reads.
const (
	LinkNull     = 0   // BSD loopback: 4-byte address family, host order
	LinkEthernet = 1   // Ethernet II, with 802.1Q/802.1ad tags
	LinkRaw      = 101 // raw IPv4/IPv6
	LinkLoop     = 108 // OpenBSD loopback: 4-byte address family, network order
	LinkLinuxSLL = 113 // Linux cooked capture v1
	LinkIPv4     = 228
	LinkIPv6     = 229
	LinkSLL2     = 276 // Linux cooked capture v2
)

// TCP flags the detector looks at.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagACK = 0x10
)

// Flow is one direction of a TCP connection.
type Flow struct {
	Src, Dst netip.AddrPort
}

// Reverse is the other direction of the same connection.
func (f Flow) Reverse() Flow { return Flow{Src: f.Dst, Dst: f.Src} }

func (f Flow) String() string { return f.Src.String() + " > " + f.Dst.String() }

// Segment is the part of a TCP segment keepalive detection needs.
type Segment struct {
	Flow  Flow
	Seq   uint32
	Ack   uint32
	Flags uint8
	// Len is the TCP payload length as the IP header states it, so that a
	// capture cut short by its snap length still counts right.
	Len int
}

// ErrNotTCP means a packet is well formed as far as it was read but holds
// no TCP segment the detector can use (another protocol, a later IP
// fragment, an unknown link type).
var ErrNotTCP = errors.New("storm: not a TCP segment")

// ErrTruncated means a header ends before its stated length.
var ErrTruncated = errors.New("storm: truncated packet")

// DecodeSegment decodes the TCP segment in one captured frame of the given
// link type. It never reads past data and never panics on malformed input;
// it returns ErrNotTCP for other traffic and ErrTruncated (wrapped) for
// broken headers.
func DecodeSegment(linkType int, data []byte) (Segment, error) {
	var ethertype uint16
	switch linkType {
	case LinkEthernet:
		if len(data) < 14 {
			return Segment{}, fmt.Errorf("%w: ethernet header", ErrTruncated)
		}
		ethertype = binary.BigEndian.Uint16(data[12:14])
		data = data[14:]
		for ethertype == 0x8100 || ethertype == 0x88a8 {
			if len(data) < 4 {
				return Segment{}, fmt.Errorf("%w: vlan tag", ErrTruncated)
			}
			ethertype = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		}
	case LinkLinuxSLL:
		if len(data) < 16 {
			return Segment{}, fmt.Errorf("%w: SLL header", ErrTruncated)
		}
		ethertype = binary.BigEndian.Uint16(data[14:16])
		data = data[16:]
	case LinkSLL2:
		if len(data) < 20 {
			return Segment{}, fmt.Errorf("%w: SLL2 header", ErrTruncated)
		}
		ethertype = binary.BigEndian.Uint16(data[0:2])
		data = data[20:]
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return Segment{}, fmt.Errorf("%w: loopback header", ErrTruncated)
		}
		fam := binary.LittleEndian.Uint32(data[:4])
		if linkType == LinkLoop || fam > 0xffff {
			fam = binary.BigEndian.Uint32(data[:4])
		}
		data = data[4:]
		switch fam {
		case 2:
			ethertype = 0x0800
		case 10, 24, 28, 30:
			ethertype = 0x86dd
		default:
			return Segment{}, ErrNotTCP
		}
	case LinkRaw:
		if len(data) < 1 {
			return Segment{}, fmt.Errorf("%w: empty IP packet", ErrTruncated)
		}
		switch data[0] >> 4 {
		case 4:
			ethertype = 0x0800
		case 6:
			ethertype = 0x86dd
		default:
			return Segment{}, ErrNotTCP
		}
	case LinkIPv4:
		ethertype = 0x0800
	case LinkIPv6:
		ethertype = 0x86dd
	default:
		return Segment{}, fmt.Errorf("%w: link type %d", ErrNotTCP, linkType)
	}
	switch ethertype {
	case 0x0800:
		return decodeIPv4(data)
	case 0x86dd:
		return decodeIPv6(data)
	}
	return Segment{}, ErrNotTCP
}

func decodeIPv4(b []byte) (Segment, error) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return Segment{}, fmt.Errorf("%w: IPv4 header", ErrTruncated)
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || len(b) < ihl || total < ihl {
		return Segment{}, fmt.Errorf("%w: IPv4 header length %d, total %d", ErrTruncated, ihl, total)
	}
	if b[9] != 6 {
		return Segment{}, ErrNotTCP
	}
	if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
		return Segment{}, ErrNotTCP // a later fragment: no TCP header
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	return decodeTCP(src, dst, b[ihl:], total-ihl)
}

func decodeIPv6(b []byte) (Segment, error) {
	if len(b) < 40 || b[0]>>4 != 6 {
		return Segment{}, fmt.Errorf("%w: IPv6 header", ErrTruncated)
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	next := b[6]
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	b = b[40:]
	for range 8 { // extension headers, bounded
		switch next {
		case 6:
			return decodeTCP(src, dst, b, plen)
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 {
				return Segment{}, fmt.Errorf("%w: IPv6 extension header", ErrTruncated)
			}
			n := (int(b[1]) + 1) * 8
			if len(b) < n || plen < n {
				return Segment{}, fmt.Errorf("%w: IPv6 extension header", ErrTruncated)
			}
			next, b, plen = b[0], b[n:], plen-n
		case 44: // fragment
			if len(b) < 8 || plen < 8 {
				return Segment{}, fmt.Errorf("%w: IPv6 fragment header", ErrTruncated)
			}
			if binary.BigEndian.Uint16(b[2:4])&0xfff8 != 0 {
				return Segment{}, ErrNotTCP
			}
			next, b, plen = b[0], b[8:], plen-8
		default:
			return Segment{}, ErrNotTCP
		}
	}
	return Segment{}, ErrNotTCP
}

// decodeTCP decodes a TCP header from b; ipPayload is the length the IP
// header gives the segment (header + data).
func decodeTCP(src, dst netip.Addr, b []byte, ipPayload int) (Segment, error) {
	if len(b) < 20 {
		return Segment{}, fmt.Errorf("%w: TCP header", ErrTruncated)
	}
	doff := int(b[12]>>4) * 4
	if doff < 20 || ipPayload < doff {
		return Segment{}, fmt.Errorf("%w: TCP data offset %d in %d bytes", ErrTruncated, doff, ipPayload)
	}
	return Segment{
		Flow: Flow{
			Src: netip.AddrPortFrom(src.Unmap(), binary.BigEndian.Uint16(b[0:2])),
			Dst: netip.AddrPortFrom(dst.Unmap(), binary.BigEndian.Uint16(b[2:4])),
		},
		Seq:   binary.BigEndian.Uint32(b[4:8]),
		Ack:   binary.BigEndian.Uint32(b[8:12]),
		Flags: b[13],
		Len:   ipPayload - doff,
	}, nil
}

// Detector finds keepalive probes in a stream of segments, as Wireshark's
// tcp.analysis.keep_alive does: a segment with 0 or 1 byte of payload,
// no SYN, FIN or RST, whose sequence number is one below the next expected
// sequence number of its direction, the highest seq+len (SYN and FIN
// counting one) seen so far in that direction. The zero value is ready.
type Detector struct {
	next map[Flow]uint32
}

// Keepalive reports whether s is a keepalive probe and records it.
func (d *Detector) Keepalive(s Segment) bool {
	if d.next == nil {
		d.next = make(map[Flow]uint32)
	}
	next, seen := d.next[s.Flow]
	probe := seen && s.Len <= 1 && s.Flags&(FlagSYN|FlagFIN|FlagRST) == 0 && s.Seq == next-1
	end := s.Seq + uint32(s.Len)
	if s.Flags&(FlagSYN|FlagFIN) != 0 {
		end++
	}
	switch {
	case s.Flags&FlagSYN != 0 && s.Flags&FlagACK == 0:
		d.next[s.Flow] = end // a new connection on this 4-tuple
	case !seen || int32(end-next) > 0:
		d.next[s.Flow] = end
	}
	return probe
}
