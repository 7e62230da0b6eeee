package kernel

import (
	"fmt"
	"regexp"
	"strconv"
)

// Version is an upstream Linux version: 5.10.223 is {5, 10, 223}.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

var (
	upstreamInParens = regexp.MustCompile(`\((\d+)\.(\d+)(?:\.(\d+))?\)`)
	leadingVersion   = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?`)
	distroVersion    = regexp.MustCompile(`(?:Debian|Ubuntu) (\d+)\.(\d+)\.(\d+)`)
)

// ParseVersion reads the upstream version from a kernel name as Host.Kernel holds it: a
// release ("6.12.57", "5.10.0-32-amd64") optionally followed by the
// upstream version in parentheses ("5.10.0-32-amd64 (5.10.223)"), which
// wins: Debian's release names its ABI, not its sublevel. ok is false
// when there is no version.
func ParseVersion(s string) (v Version, ok bool) {
	m := upstreamInParens.FindStringSubmatch(s)
	if m == nil {
		m = leadingVersion.FindStringSubmatch(s)
	}
	if m == nil {
		return Version{}, false
	}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, true
}

// DistributionVersion finds the upstream version a distribution kernel
// states in /proc/version ("... #1 SMP Debian 5.10.223-1 ..."), "" if none.
func DistributionVersion(procVersion string) string {
	// The last match: the compiler's version ("gcc-10 (Debian 10.2.1-6)")
	// comes first.
	all := distroVersion.FindAllStringSubmatch(procVersion, -1)
	if all == nil {
		return ""
	}
	m := all[len(all)-1]
	return m[1] + "." + m[2] + "." + m[3]
}

// ZeroWindowFixed reports whether v's user timeout ends a connection
// whose peer keeps its receive window closed (answers the zero-window
// probes, never reads): upstream from 5.11, backported to 5.10.13 and
// 5.4.93 ("tcp: fix TCP_USER_TIMEOUT with zero window").
func ZeroWindowFixed(v Version) bool {
	switch {
	case !v.Less(Version{5, 11, 0}):
		return true
	case v.Major == 5 && v.Minor == 10:
		return v.Patch >= 13
	case v.Major == 5 && v.Minor == 4:
		return v.Patch >= 93
	}
	return false
}
