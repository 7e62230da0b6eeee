// Package cgroup2 finds the cgroup v2 mount and makes and removes the
// cgroups that flatline's tests and lab put programs in. Every cgroup it
// makes is named with the lab's prefix and the maker's pid
// ("flt-<pid>-<name>"), so that Sweep can remove those of dead makers.
package cgroup2

import (
	"bufio"
	"bytes"
	"strings"
)

// Prefix begins the name of every cgroup this package makes (the lab's
// namespace prefix).
const Prefix = "flt-"

// ParseMountinfo returns the mount point of the first cgroup2 file system
// in a /proc/PID/mountinfo text, and false when there is none. Octal
// escapes in the mount point (\040 for a space) are decoded.
func ParseMountinfo(b []byte) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fs := strings.Fields(post)
		f := strings.Fields(pre)
		if len(fs) < 1 || len(f) < 5 || fs[0] != "cgroup2" {
			continue
		}
		return unescape(f[4]), true
	}
	return "", false
}

// unescape decodes mountinfo's \ooo octal escapes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 || s[0] > '3' {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return true
}
