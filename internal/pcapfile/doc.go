// Package pcapfile reads pcap and pcapng capture files and writes pcap
// files: what flatline pcap, the storm lab and their tests need, without a
// packet-decoding library.
//
// The reader takes both byte orders of both formats, microsecond and
// nanosecond pcap, and in pcapng every section and interface: link type
// per interface, the if_tsresol and if_tsoffset options, Enhanced, Simple
// and Obsolete Packet Blocks; other blocks are skipped by their length.
// Capture files are hostile input: every length is checked against the
// block or record that holds it and against MaxPacket before it sizes a
// buffer or a slice, so a reader's memory stays under MaxBlock whatever
// the file says, and a broken file ends in an error (ErrTruncated,
// ErrMalformed) rather than a panic.
//
// The writer writes nanosecond pcap, the format tcpdump -r, tshark and
// every pcap reader take.
package pcapfile
