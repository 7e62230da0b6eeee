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
