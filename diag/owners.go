package diag

import (
	"strconv"
	"strings"
)

// ParseSocketLink returns the inode of a /proc/PID/fd link target of the
// form "socket:[12345]", and false for anything else (files, pipes,
// anon_inode:...).
func ParseSocketLink(target string) (uint64, bool) {
	rest, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok || num == "" || num[0] == '+' {
		return 0, false
	}
	ino, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, false
	}
	return ino, true
}

// parseSockstatTCP returns how many TCP sockets a /proc/net/sockstat
// (proto "TCP") or sockstat6 (proto "TCP6") names for its network
// namespace: in use plus TIME-WAIT (sockstat's "alloc" and "orphan" count
// the whole host; its "tw" both families'); false when the line is
// missing or malformed.
func parseSockstatTCP(b []byte, proto string) (int, bool) {
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, proto+": ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		n := 0
		for i := 0; i+1 < len(f); i += 2 {
			if f[i] != "inuse" && f[i] != "tw" {
				continue
			}
			v, err := strconv.Atoi(f[i+1])
			if err != nil || v < 0 {
				return 0, false
			}
			n += min(v, 1<<30)
		}
		return n, true
	}
	return 0, false
}
