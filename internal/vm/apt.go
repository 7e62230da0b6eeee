package vm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Suites maps a kernel version to the Debian release whose kernel it is.
var suites = map[string]string{
	"5.10": "bullseye", // Debian 11
	"6.1":  "bookworm", // Debian 12
	"6.12": "trixie",   // Debian 13
}

// Versions are the kernel versions Fetch resolves, oldest first.
func Versions() []string { return []string{"5.10", "6.1", "6.12"} }

// Suite returns the Debian suite whose kernel is version (5.10, 6.1,
// 6.12); a suite name is returned as is.
func Suite(version string) (string, error) {
	if s, ok := suites[version]; ok {
		return s, nil
	}
	for _, s := range suites {
		if s == version {
			return s, nil
		}
	}
	return "", fmt.Errorf("vm: unknown kernel version %q: use one of %s (Debian 11, 12, 13), or a path to a kernel image", version, strings.Join(Versions(), ", "))
}

// Source is one apt source: an archive's URI, and the keyring that signs
// it (Signed-By, "" when apt's default keyrings apply).
type Source struct {
	URI      string
	SignedBy string
}

// ErrNoMirror is returned when the machine's apt sources name no Debian
// archive with a release suite and the main component.
var ErrNoMirror = errors.New("vm: no Debian archive with a release suite and component main in the apt sources")

// ParseSources finds the Debian archive in apt source files: deb822
// (".sources") stanzas or one-line ("sources.list") entries of type deb
// with component main and a release suite (not -security, -updates or
// -backports). It returns the first; files are tried in the order given.
// Disabled stanzas (Enabled: no) and comments are skipped.
func ParseSources(files map[string][]byte, order []string) (Source, error) {
	for _, name := range order {
		data := files[name]
		var srcs []entry
		if strings.HasSuffix(name, ".sources") {
			srcs = parseDeb822(data)
		} else {
			srcs = parseOneLine(data)
		}
		for _, e := range srcs {
			if e.archive() {
				return Source{URI: e.uris[0], SignedBy: e.signedBy}, nil
			}
		}
	}
	return Source{}, ErrNoMirror
}

type entry struct {
	types, uris, suites, components []string
	signedBy                        string
	disabled                        bool
}

func (e entry) archive() bool {
	if e.disabled || len(e.uris) == 0 || !contains(e.types, "deb") || !contains(e.components, "main") {
		return false
	}
	for _, s := range e.suites {
		if s != "" && !strings.ContainsAny(s, "-/") {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseDeb822 reads the stanzas of a .sources file. Continuation lines
// (starting with a space) extend the previous field.
func parseDeb822(data []byte) []entry {
	var out []entry
	fields := map[string]string{}
	last := ""
	flush := func() {
		if len(fields) == 0 {
			return
		}
		e := entry{
			types:      strings.Fields(fields["types"]),
			uris:       strings.Fields(fields["uris"]),
			suites:     strings.Fields(fields["suites"]),
			components: strings.Fields(fields["components"]),
			signedBy:   strings.TrimSpace(fields["signed-by"]),
			disabled:   strings.EqualFold(strings.TrimSpace(fields["enabled"]), "no"),
		}
		if strings.Contains(e.signedBy, "\n") || strings.Contains(e.signedBy, "BEGIN PGP") {
			e.signedBy = "" // an inline key: fall back to apt's keyrings
		}
		out = append(out, e)
		fields = map[string]string{}
		last = ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				fields[last] += "\n" + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

// parseOneLine reads "deb [options] URI suite component..." lines.
func parseOneLine(data []byte) []entry {
	var out []entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		e := entry{types: []string{f[0]}}
		rest := f[1:]
		if strings.HasPrefix(rest[0], "[") {
			// Options up to the closing bracket: signed-by=PATH is kept.
			for len(rest) > 0 {
				opt := strings.Trim(rest[0], "[]")
				if v, ok := strings.CutPrefix(opt, "signed-by="); ok {
					e.signedBy = v
				}
				end := strings.HasSuffix(rest[0], "]")
				rest = rest[1:]
				if end {
					break
				}
			}
		}
		if len(rest) < 3 {
			continue
		}
		e.uris = []string{rest[0]}
		e.suites = []string{rest[1]}
		e.components = rest[2:]
		out = append(out, e)
	}
	return out
}

// sourcesList is the one-line sources.list of a private apt
// configuration: the machine's archive with another suite.
func sourcesList(src Source, suite string) string {
	opts := ""
	if src.SignedBy != "" {
		opts = "[signed-by=" + src.SignedBy + "] "
	}
	return fmt.Sprintf("deb %s%s %s main\n", opts, src.URI, suite)
}

// parseDepends returns the first "Depends: linux-image-..." package in
// `apt-cache depends linux-image-amd64` output.
func parseDepends(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Depends:")
		if !ok {
			continue
		}
		pkg := strings.TrimSpace(v)
		pkg = strings.Trim(pkg, "<>")
		if strings.HasPrefix(pkg, "linux-image-") {
			return pkg, nil
		}
	}
	return "", errors.New("vm: linux-image-amd64 depends on no linux-image package")
}
