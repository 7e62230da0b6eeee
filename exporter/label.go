package exporter

import (
	"strings"
	"unicode/utf8"
)

// maxLabelBytes bounds a label value that comes from the outside world
// (a process's comm, a namespace's name under /var/run/netns, a path):
// comm is at most 15 bytes, but a file name may be 255 and the series of
// a hostile name would otherwise carry all of it on every scrape.
const maxLabelBytes = 128

// labelValue makes s, read from something a local process controls, a
// label value Prometheus accepts and that stays small: bytes that are not
// UTF-8 become U+FFFD, control characters become '?', and a value longer
// than maxLabelBytes is cut at a rune boundary and ends in "…". A valid,
// short, printable s is returned unchanged. The result is never longer
// than maxLabelBytes, always valid UTF-8, and labelValue(labelValue(s)) ==
// labelValue(s).
func labelValue(s string) string {
	if len(s) <= maxLabelBytes && utf8.ValidString(s) && !strings.ContainsFunc(s, isControl) {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if len(s) <= maxLabelBytes {
		return s
	}
	const ellipsis = "…"
	cut := maxLabelBytes - len(ellipsis)
	for !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// isControl is a character that has no business in a label value: C0 and
// C1 controls and DEL (comm may hold a newline).
func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }
