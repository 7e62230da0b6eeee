//go:build !linux

package flatline

import "runtime"

// connInfo is what Diagnose reads from TCP_INFO on Linux.
type connInfo struct {
	unacked, notsent, sndWnd uint32
	retransmits, probes      uint8
	closed                   bool
}

func readConnInfo(uintptr) (connInfo, error) {
	return connInfo{}, &NotSupportedError{Feature: "TCP_INFO", GOOS: runtime.GOOS}
}
