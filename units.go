package flatline

import "time"

// seconds converts a whole-second duration to the kernel's unit, rounding
// a fraction up (Validate rejects fractions before they get here).
func seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
