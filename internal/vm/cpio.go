package vm

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Archive is an initramfs in the making: files, directories and symlinks
// by path (no leading slash), written as a newc cpio archive, the format
// the kernel unpacks into its root file system.
type Archive struct {
	entries map[string]archiveEntry
}

type archiveEntry struct {
	mode uint32 // type and permission bits
	data []byte // file contents, or a symlink's target
}

const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
)

// NewArchive returns an empty archive.
func NewArchive() *Archive { return &Archive{entries: map[string]archiveEntry{}} }

// File adds a regular file with permission bits perm, and its parent
// directories.
func (a *Archive) File(name string, data []byte, perm uint32) {
	name = strings.TrimPrefix(name, "/")
	a.parents(name)
	a.entries[name] = archiveEntry{mode: modeFile | perm&0o7777, data: data}
}

// Dir adds a directory and its parents.
func (a *Archive) Dir(name string) {
	name = strings.Trim(name, "/")
	a.parents(name)
	a.entries[name] = archiveEntry{mode: modeDir | 0o755}
}

// Symlink adds a symbolic link name -> target.
func (a *Archive) Symlink(name, target string) {
	name = strings.TrimPrefix(name, "/")
	a.parents(name)
	a.entries[name] = archiveEntry{mode: modeSymlink | 0o777, data: []byte(target)}
}

func (a *Archive) parents(name string) {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			if _, ok := a.entries[name[:i]]; !ok {
				a.entries[name[:i]] = archiveEntry{mode: modeDir | 0o755}
			}
		}
	}
}

// WriteTo writes the archive in newc format: entries sorted by path (a
// directory before what it holds), then the TRAILER!!! entry.
func (a *Archive) WriteTo(w io.Writer) (int64, error) {
	names := make([]string, 0, len(a.entries))
	for n := range a.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	cw := &countWriter{w: w}
	for i, n := range names {
		e := a.entries[n]
		writeEntry(cw, uint32(i+1), n, e.mode, e.data)
	}
	writeEntry(cw, 0, "TRAILER!!!", 0, nil)
	return cw.n, cw.err
}

// writeEntry writes one newc header (magic 070701 and thirteen 8-digit hex
// fields), the NUL-terminated name padded to 4 bytes, and the data padded
// to 4 bytes.
func writeEntry(w io.Writer, ino uint32, name string, mode uint32, data []byte) {
	nlink := 1
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	io.WriteString(w, hdr)
	io.WriteString(w, name+"\x00")
	pad(w, len(hdr)+len(name)+1)
	w.Write(data)
	pad(w, len(data))
}

func pad(w io.Writer, n int) {
	if r := n % 4; r != 0 {
		w.Write(make([]byte, 4-r))
	}
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}
