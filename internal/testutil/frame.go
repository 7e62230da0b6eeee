package testutil

import (
	"encoding/binary"
	"net/netip"
)

// TCPFrame builds an Ethernet II frame holding one TCP segment from src to
// dst over IPv4 or IPv6 (by src's address), with the given sequence and
// acknowledgment numbers, TCP flag bits (0x10 ACK, 0x02 SYN, ...), a
// window of 1000 and payload zero bytes; IP and TCP checksums are
// computed, so Wireshark finds nothing wrong with it.
func TCPFrame(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload int) []byte {
	tcp := make([]byte, 20+payload)
	be := binary.BigEndian
	be.PutUint16(tcp[0:2], src.Port())
	be.PutUint16(tcp[2:4], dst.Port())
	be.PutUint32(tcp[4:8], seq)
	be.PutUint32(tcp[8:12], ack)
	tcp[12] = 5 << 4 // data offset: 20 bytes
	tcp[13] = flags
	be.PutUint16(tcp[14:16], 1000)
	s, d := src.Addr().AsSlice(), dst.Addr().AsSlice()
	// Pseudo-header: addresses, protocol 6, TCP length.
	pseudo := append(append(append([]byte{}, s...), d...), 0, 6, byte(len(tcp)>>8), byte(len(tcp)))
	be.PutUint16(tcp[16:18], checksum(pseudo, tcp))
	eth := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	var ip []byte
	if src.Addr().Is4() {
		ip = make([]byte, 20)
		ip[0] = 0x45
		be.PutUint16(ip[2:4], uint16(20+len(tcp)))
		ip[6] = 0x40 // don't fragment
		ip[8], ip[9] = 64, 6
		copy(ip[12:16], s)
		copy(ip[16:20], d)
		be.PutUint16(ip[10:12], checksum(ip))
	} else {
		eth[12], eth[13] = 0x86, 0xdd
		ip = make([]byte, 40)
		ip[0] = 0x60
		be.PutUint16(ip[4:6], uint16(len(tcp)))
		ip[6], ip[7] = 6, 64
		copy(ip[8:24], s)
		copy(ip[24:40], d)
	}
	return append(append(eth, ip...), tcp...)
}

// checksum is the Internet checksum (RFC 1071) of the concatenated parts
// (each but the last of even length).
func checksum(parts ...[]byte) uint16 {
	var sum uint32
	for _, p := range parts {
		for i := 0; i+1 < len(p); i += 2 {
			sum += uint32(p[i])<<8 | uint32(p[i+1])
		}
		if len(p)%2 == 1 {
			sum += uint32(p[len(p)-1]) << 8
		}
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
