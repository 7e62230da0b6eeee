package exporter

import "strconv"

// Namespace is one network namespace of the host, found through the
// processes in it or a name under /run/netns.
type Namespace struct {
	// ID is the namespace as the kernel names it in /proc/PID/ns/net
	// links: "net:[INODE]". It is the netns label of the metrics.
	ID    string
	Inode uint64
	// Paths open the namespace: /proc/PID/ns/net of a few of its
	// processes (the lowest pids first), then /run/netns/NAME if it
	// has a name. A scan tries them in order: a process may exit between
	// discovery and scan.
	Paths []string
	// Name is its name under /run/netns, empty if none.
	Name string
	// PID and Comm are its lowest-numbered process; 0 and "" when only a
	// name holds it.
	PID  int
	Comm string
	// PIDs are the processes in it, ascending.
	PIDs []int
	// Cookie is the kernel's id of the namespace (SO_NETNS_COOKIE, Linux
	// 5.14), never reused, unlike Inode: a namespace made after another
	// was freed may get its inode. 0 when it could not be read.
	Cookie uint64
}

// Discovery is what one walk of /proc and /run/netns found.
type Discovery struct {
	// Namespaces, ordered by inode.
	Namespaces []Namespace
	// Unreadable counts processes whose /proc/PID/ns/net could not be
	// read (no privilege: reading another user's link needs root or
	// CAP_SYS_PTRACE): namespaces only they are in are not covered.
	Unreadable int
}

// maxPaths is how many process paths a Namespace keeps.
const maxPaths = 3

// nsID formats an inode as the kernel names a network namespace.
func nsID(ino uint64) string { return "net:[" + strconv.FormatUint(ino, 10) + "]" }
