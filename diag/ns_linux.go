package diag

import (
	"path/filepath"
	"strings"
)

// nsPath resolves Options.NetNS: a name under /var/run/netns or a path.
func nsPath(name string) string {
	if strings.ContainsRune(name, '/') {
		return name
	}
	return filepath.Join("/var/run/netns", name)
}
