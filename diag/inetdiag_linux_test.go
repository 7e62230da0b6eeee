package diag

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestTCPInfoOffsets checks the decoder's offsets against x/sys/unix's
// struct tcp_info, which is generated from the kernel headers.
func TestTCPInfoOffsets(t *testing.T) {
	var ti unix.TCPInfo
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"retransmits", tcpiRetransmits, unsafe.Offsetof(ti.Retransmits)},
		{"probes", tcpiProbes, unsafe.Offsetof(ti.Probes)},
		{"backoff", tcpiBackoff, unsafe.Offsetof(ti.Backoff)},
		{"rto", tcpiRTO, unsafe.Offsetof(ti.Rto)},
		{"unacked", tcpiUnacked, unsafe.Offsetof(ti.Unacked)},
		{"last_data_sent", tcpiLastDataSent, unsafe.Offsetof(ti.Last_data_sent)},
		{"last_ack_sent", tcpiLastAckSent, unsafe.Offsetof(ti.Last_ack_sent)},
		{"last_data_recv", tcpiLastDataRecv, unsafe.Offsetof(ti.Last_data_recv)},
		{"last_ack_recv", tcpiLastAckRecv, unsafe.Offsetof(ti.Last_ack_recv)},
		{"total_retrans", tcpiTotalRetrans, unsafe.Offsetof(ti.Total_retrans)},
		{"notsent_bytes", tcpiNotsent, unsafe.Offsetof(ti.Notsent_bytes)},
		{"snd_wnd", tcpiSndWnd, unsafe.Offsetof(ti.Snd_wnd)},
	} {
		if c.got != c.want {
			t.Errorf("offset of tcpi_%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}
