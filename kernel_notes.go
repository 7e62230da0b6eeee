package flatline

import (
	"fmt"
	"regexp"
	"strconv"
)

// KernelVersion is an upstream Linux version: 5.10.223 is {5, 10, 223}.
type KernelVersion struct{ Major, Minor, Patch int }

func (v KernelVersion) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less reports whether v is older than w.
func (v KernelVersion) Less(w KernelVersion) bool {
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

// ParseKernelVersion reads the upstream version from Host.Kernel: a
// release ("6.12.57", "5.10.0-32-amd64") optionally followed by the
// upstream version in parentheses ("5.10.0-32-amd64 (5.10.223)"), which
// wins: Debian's release names its ABI, not its sublevel. ok is false
// when there is no version.
func ParseKernelVersion(s string) (v KernelVersion, ok bool) {
	m := upstreamInParens.FindStringSubmatch(s)
	if m == nil {
		m = leadingVersion.FindStringSubmatch(s)
	}
	if m == nil {
		return KernelVersion{}, false
	}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, true
}

// distributionVersion finds the upstream version a distribution kernel
// states in /proc/version ("... #1 SMP Debian 5.10.223-1 ..."), "" if none.
func distributionVersion(procVersion string) string {
	// The last match: the compiler's version ("gcc-10 (Debian 10.2.1-6)")
	// comes first.
	all := distroVersion.FindAllStringSubmatch(procVersion, -1)
	if all == nil {
		return ""
	}
	m := all[len(all)-1]
	return m[1] + "." + m[2] + "." + m[3]
}

// zeroWindowFixed reports whether v's user timeout ends a connection
// whose peer keeps its receive window closed (answers the zero-window
// probes, never reads): upstream from 5.11, backported to 5.10.13 and
// 5.4.93 ("tcp: fix TCP_USER_TIMEOUT with zero window").
func zeroWindowFixed(v KernelVersion) bool {
	switch {
	case !v.Less(KernelVersion{5, 11, 0}):
		return true
	case v.Major == 5 && v.Minor == 10:
		return v.Patch >= 13
	case v.Major == 5 && v.Minor == 4:
		return v.Patch >= 93
	}
	return false
}

// zeroWindowFeature names what kernels before the fix lack.
const zeroWindowFeature = "a closed-window bound (TCP_USER_TIMEOUT ending a peer that keeps its window closed)"

// KernelNotes says what the kernel named in h.Kernel cannot promise, or
// does differently, for flatline's plan; nil when the kernel is unknown
// or has nothing to say.
func KernelNotes(h Host) []string {
	v, ok := ParseKernelVersion(h.Kernel)
	if !ok {
		return nil
	}
	var notes []string
	if !zeroWindowFixed(v) {
		notes = append(notes, fmt.Sprintf(
			"kernel %v: the user timeout does not end a connection whose peer keeps its window closed (fixed in 5.11, 5.10.13, 5.4.93): a peer that answers but never reads goes unnoticed; the closed-window bound does not hold",
			v))
	}
	return notes
}

// ValidateFor is Validate for a connection on host h: it also fails, with
// an error matching ErrNotSupported that names the feature and the kernel
// that has it, when h's kernel cannot keep a bound of the plan (before
// 5.11, 5.10.13 or 5.4.93 the closed-window bound). An unknown kernel
// (h.Kernel "") is taken to keep them.
func (c Config) ValidateFor(h Host) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if v, ok := ParseKernelVersion(h.Kernel); ok && !zeroWindowFixed(v) {
		return &NotSupportedError{Feature: zeroWindowFeature + " on kernel " + v.String(), Needs: "Linux 5.11, 5.10.13 or 5.4.93", GOOS: "linux"}
	}
	return nil
}
