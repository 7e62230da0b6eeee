package svgchart

import (
	"encoding/xml"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text metrics: SVG leaves fonts to the viewer, so layout assumes a
// sans-serif face of fontSize px whose characters average charWidth px.
const (
	fontSize  = 12
	charWidth = 7
)

// clean makes s safe to show: invalid UTF-8, control and format characters
// (bidirectional overrides among them) and characters XML forbids become
// U+FFFD, and it is cut to MaxLabel runes.
func clean(s string) string { return cleanN(s, MaxLabel) }

// cleanN is clean cutting s to max runes.
func cleanN(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if n == max {
			b.WriteString("…")
			break
		}
		if !xmlChar(r) || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// xmlChar is XML 1.0's Char production.
func xmlChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// escaped is clean(s), XML-escaped for text and attribute values.
func escaped(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(clean(s))) // a strings.Builder does not fail
	return b.String()
}

// textWidth estimates the width of clean(s) in px.
func textWidth(s string) float64 {
	return float64(utf8.RuneCountInString(clean(s)) * charWidth)
}
