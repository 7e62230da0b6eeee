package kernel

import (
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
