package exporter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/flatline-dev/flatline/internal/kernel"

	"golang.org/x/sys/unix"
)

// Discover finds every network namespace of the host: it stats
// procRoot/PID/ns/net of every process and every file under netnsDir (the
// namespaces ip netns names), and dedupes them by inode. procRoot is
// usually "/proc" and netnsDir "/run/netns"; an empty netnsDir skips
// named namespaces, and a missing one is not an error. Processes that exit
// during the walk are skipped; processes whose link cannot be read are
// counted in Discovery.Unreadable. It fails only when procRoot cannot be
// listed.
func Discover(procRoot, netnsDir string) (Discovery, error) {
	var d Discovery
	dir, err := os.Open(procRoot)
	if err != nil {
		return d, fmt.Errorf("exporter: list processes: %w", err)
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return d, fmt.Errorf("exporter: list processes in %s: %w", procRoot, err)
	}
	var pids []int
	for _, n := range names {
		if p, err := strconv.Atoi(n); err == nil && p > 0 {
			pids = append(pids, p)
		}
	}
	slices.Sort(pids)

	type key struct{ dev, ino uint64 }
	byKey := make(map[key]*Namespace)
	var order []key
	get := func(k key) *Namespace {
		ns, ok := byKey[k]
		if !ok {
			ns = &Namespace{ID: nsID(k.ino), Inode: k.ino}
			byKey[k] = ns
			order = append(order, k)
		}
		return ns
	}
	for _, p := range pids {
		path := filepath.Join(procRoot, strconv.Itoa(p), "ns", "net")
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ESRCH) {
				d.Unreadable++ // EACCES: another user's process without privilege
			}
			continue // ENOENT: exited, or a kernel thread without the link
		}
		ns := get(key{uint64(st.Dev), st.Ino})
		ns.PIDs = append(ns.PIDs, p)
		if len(ns.Paths) < maxPaths {
			ns.Paths = append(ns.Paths, path)
		}
		if ns.PID == 0 {
			ns.PID = p
			b, _ := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(p), "comm"))
			ns.Comm = strings.TrimSpace(string(b))
		}
	}
	if netnsDir != "" {
		entries, err := os.ReadDir(netnsDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return d, fmt.Errorf("exporter: list named network namespaces: %w", err)
		}
		for _, e := range entries {
			path := filepath.Join(netnsDir, e.Name())
			var st syscall.Stat_t
			if err := syscall.Stat(path, &st); err != nil {
				continue // removed during the walk
			}
			var nsfs unix.Statfs_t
			if err := unix.Statfs(path, &nsfs); err != nil || nsfs.Type != unix.NSFS_MAGIC {
				continue // not a mounted namespace (a stale file)
			}
			ns := get(key{uint64(st.Dev), st.Ino})
			if ns.Name == "" {
				ns.Name = e.Name()
				ns.Paths = append(ns.Paths, path)
			}
		}
	}
	for _, k := range order {
		d.Namespaces = append(d.Namespaces, *byKey[k])
	}
	slices.SortFunc(d.Namespaces, func(a, b Namespace) int {
		switch {
		case a.Inode < b.Inode:
			return -1
		case a.Inode > b.Inode:
			return 1
		}
		return 0
	})
	return d, nil
}

// soNetNSCookie is SO_NETNS_COOKIE (Linux 5.14; 71 on the generic socket
// option table, which amd64, arm64 and s390x use).
const soNetNSCookie = 71

// fillCookies sets the Cookie of each namespace it can enter: the
// kernel's 64-bit id of the namespace, which, unlike its inode, is never
// given to another namespace. A namespace it cannot enter, or a kernel
// before 5.14, leaves Cookie 0.
func fillCookies(nss []Namespace) {
	for i := range nss {
		for _, p := range nss[i].Paths {
			if c, err := netnsCookie(p); err == nil {
				nss[i].Cookie = c
				break
			}
		}
	}
}

// netnsCookie reads the cookie of the network namespace at path through a
// socket opened in it.
func netnsCookie(path string) (uint64, error) {
	var cookie uint64
	err := kernel.InNetNS(path, func() error {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return os.NewSyscallError("socket", err)
		}
		defer unix.Close(fd)
		// The kernel wants exactly 8 bytes; x/sys has no uint64 getter.
		n := uint32(unsafe.Sizeof(cookie))
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, soNetNSCookie,
			uintptr(unsafe.Pointer(&cookie)), uintptr(unsafe.Pointer(&n)), 0)
		if errno != 0 {
			return os.NewSyscallError("getsockopt SO_NETNS_COOKIE", errno)
		}
		return nil
	})
	return cookie, err
}
