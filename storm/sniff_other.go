//go:build !linux

package storm

import "time"

// Frame is one captured frame: Ethernet bytes and the receive time.
type Frame struct {
	At   time.Time
	Data []byte
}
