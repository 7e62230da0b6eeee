// Package testutil holds helpers that more than one package's tests use:
// independent oracles (tshark) and the like. Test code only.
package testutil

import (
	"os/exec"
	"strconv"
	"strings"
)

// TsharkKeepalives runs tshark -Y tcp.analysis.keep_alive on a capture
// file and counts the frames it shows: Wireshark's keepalive heuristic, an
// oracle independent of flatline's decoder.
func TsharkKeepalives(name string) (int, error) {
	out, err := exec.Command("tshark", "-n", "-r", name, "-Y", "tcp.analysis.keep_alive", "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if _, err := strconv.Atoi(strings.TrimSpace(l)); err == nil {
			n++
		}
	}
	return n, nil
}
