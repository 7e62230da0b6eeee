package flatline

import (
	"fmt"

	"github.com/flatline-dev/flatline/internal/kernel"
)

// zeroWindowFeature names what kernels before the fix lack.
const zeroWindowFeature = "a closed-window bound (TCP_USER_TIMEOUT ending a peer that keeps its window closed)"

// KernelNotes says what the kernel named in h.Kernel cannot promise, or
// does differently, for flatline's plan; nil when the kernel is unknown
// or has nothing to say.
func KernelNotes(h Host) []string {
	v, ok := kernel.ParseVersion(h.Kernel)
	if !ok {
		return nil
	}
	var notes []string
	if !kernel.ZeroWindowFixed(v) {
		notes = append(notes, fmt.Sprintf(
			"kernel %v: the user timeout does not end a connection whose peer keeps its window closed (fixed in 5.11, 5.10.13, 5.4.93): a peer that answers but never reads goes unnoticed; the closed-window bound does not hold",
			v))
	}
	return notes
}

// ValidateFor is Validate for a connection on host h: it also fails, with
// an error matching ErrNotSupported that names the feature and the kernel
// that has it, when h's kernel cannot keep a bound of the plan (before
// 5.11, 5.10.13 or 5.4.93 the closed-window bound). An unknown kernel
// (h.Kernel "") is taken to keep them.
func (c Config) ValidateFor(h Host) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if v, ok := kernel.ParseVersion(h.Kernel); ok && !kernel.ZeroWindowFixed(v) {
		return &NotSupportedError{Feature: zeroWindowFeature + " on kernel " + v.String(), Needs: "Linux 5.11, 5.10.13 or 5.4.93", GOOS: "linux"}
	}
	return nil
}
