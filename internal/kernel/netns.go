package kernel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// NetNSOwner parses the creating PID out of a namespace name
// "<prefix><pid>-<rest>"; ok is false for names of another shape.
func NetNSOwner(name, prefix string) (pid int, ok bool) {
	rest, found := strings.CutPrefix(name, prefix)
	if !found {
		return 0, false
	}
	field, _, found := strings.Cut(rest, "-")
	if !found {
		return 0, false
	}
	pid, err := strconv.Atoi(field)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// NetNSDir is where named network namespaces are bind-mounted, as
// `ip netns add` does (/var/run/netns is a link to it on current
// distributions). It is the one spelling of that directory in flatline.
const NetNSDir = "/run/netns"

// maxNetNSName bounds a namespace name: a file name under NetNSDir.
const maxNetNSName = 255

// NetNSPath resolves a namespace given by a user: a name under NetNSDir
// (as `ip netns` lists it) or, if it contains '/', a path such as
// /proc/PID/ns/net. A name must be a single non-empty file name of at most
// 255 bytes: not "." or "..", no NUL. It does not check that the
// namespace exists.
func NetNSPath(nameOrPath string) (string, error) {
	if nameOrPath == "" {
		return "", errors.New("network namespace: empty name: give a name under " + NetNSDir + " or a path")
	}
	if strings.IndexByte(nameOrPath, 0) >= 0 {
		return "", fmt.Errorf("network namespace %q: contains a NUL byte", nameOrPath)
	}
	if strings.ContainsRune(nameOrPath, '/') {
		return nameOrPath, nil
	}
	if nameOrPath == "." || nameOrPath == ".." || len(nameOrPath) > maxNetNSName {
		return "", fmt.Errorf("network namespace %q: not a name under %s (1 to %d bytes, not . or ..)", nameOrPath, NetNSDir, maxNetNSName)
	}
	return NetNSDir + "/" + nameOrPath, nil
}
