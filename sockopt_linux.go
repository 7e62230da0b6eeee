package flatline

import (
	"errors"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// userTimeoutBoundsSYN is whether the user timeout ends a dial into a
// silent path (measured on Linux 6.18: 3.01 s for 3 s).
const userTimeoutBoundsSYN = true

func supported() error { return nil }

// setOptions sets s on a socket through the kernel model's option table
// (keepalive values before SO_KEEPALIVE, which arms the timer).
func setOptions(fd uintptr, s Settings) error {
	return optionErr(kernel.SetOptions(int(fd), kernel.Options(s)))
}

// getOptions reads every option of the table back.
func getOptions(fd uintptr) (Settings, error) {
	o, err := kernel.GetOptions(int(fd))
	return Settings(o), optionErr(err)
}

// rearmKeepalive turns SO_KEEPALIVE off and on: the kernel then arms the
// keepalive timer a full idle period from now.
func rearmKeepalive(fd uintptr) error { return optionErr(kernel.Rearm(int(fd))) }

// optionErr wraps the kernel's *OptionError as the package's *OpError.
func optionErr(err error) error {
	if err == nil {
		return nil // before errors.As: its target would be allocated on every dial
	}
	var oe *kernel.OptionError
	if errors.As(err, &oe) {
		return &OpError{Op: oe.Op + " " + oe.Name, Err: oe.Err}
	}
	return err
}

func platformPlan(p *Plan, h Host) {
	p.Notes = append(p.Notes, icmpRevertNote)
	p.Notes = append(p.Notes, KernelNotes(h)...)
}

// icmpRevertNote is what Linux cannot promise for a busy connection: an
// ICMP unreachable (a router whose link to the peer is down) reverts the
// retransmission backoff (RFC 6069, tcp_ld_RTO_revert) and re-arms the timer without the
// user-timeout clamp. Measured in the lab, link down, data in flight:
// U=3 s died at 4.77-5.04 s (the last retransmission at 3.136 s plus its
// 1.632 s RTO); U=5 s at 5.27 s; U=10 s at 11.5 s.
const icmpRevertNote = "when a router on the path answers with ICMP unreachable (its link to the peer is down), " +
	"data in flight can end up to one backed-off RTO after the sending bound: the kernel reverts the backoff " +
	"and re-arms the timer without the user-timeout clamp (measured: U=3s ended at 4.8-5.0s)"

// readConnInfo reads what Diagnose needs from TCP_INFO.
func readConnInfo(fd uintptr) (kernel.Conn, error) {
	ti, err := kernel.ReadTCPInfo(int(fd))
	if err != nil {
		return kernel.Conn{}, &OpError{Op: "read TCP_INFO", Err: err}
	}
	return kernel.ConnOf(ti), nil
}
