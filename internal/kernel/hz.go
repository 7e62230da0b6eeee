package kernel

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNoHZ means a kernel config holds no CONFIG_HZ line.
var ErrNoHZ = errors.New("kernel: no CONFIG_HZ in kernel config")

// ParseConfigHZ returns CONFIG_HZ from a kernel config (the text of
// /boot/config-* or decompressed /proc/config.gz): ErrNoHZ when absent, an
// error naming the line when malformed.
func ParseConfigHZ(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "CONFIG_HZ=")
		if !ok {
			continue
		}
		hz, err := strconv.Atoi(v)
		if err != nil || hz <= 0 || hz > 100000 {
			return 0, fmt.Errorf("kernel: bad CONFIG_HZ=%q", v)
		}
		return hz, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("kernel: read kernel config: %w", err)
	}
	return 0, ErrNoHZ
}

// ConfigHZ returns the running kernel's CONFIG_HZ from its config under
// root ("/" on a live host, a fixture directory in tests):
// proc/config.gz, else boot/config-RELEASE with RELEASE from
// proc/sys/kernel/osrelease. The error names what it tried.
func ConfigHZ(root string) (int, error) {
	gz := filepath.Join(root, "proc/config.gz")
	f, err := os.Open(gz)
	if err == nil {
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			return 0, fmt.Errorf("kernel: %s: %w", gz, err)
		}
		return ParseConfigHZ(io.LimitReader(z, 1<<24))
	}
	rel, err2 := os.ReadFile(filepath.Join(root, "proc/sys/kernel/osrelease"))
	if err2 != nil {
		return 0, fmt.Errorf("kernel: no kernel config: %w", errors.Join(err, err2))
	}
	name := filepath.Join(root, "boot/config-"+string(bytes.TrimSpace(rel)))
	g, err2 := os.Open(name)
	if err2 != nil {
		return 0, fmt.Errorf("kernel: no kernel config: %w", errors.Join(err, err2))
	}
	defer g.Close()
	return ParseConfigHZ(g)
}

// HostHZ returns the running kernel's CONFIG_HZ: from its config
// (ConfigHZ) or, when none is readable, measured from two readings of
// root's proc/timer_list 100 ms apart (root only). The error names every
// source that failed.
func HostHZ(root string) (int, error) {
	hz, errConfig := ConfigHZ(root)
	if errConfig == nil {
		return hz, nil
	}
	a, err := ReadTimerList(root)
	if err != nil {
		return 0, errors.Join(errConfig, err)
	}
	time.Sleep(100 * time.Millisecond) // the measurement itself, not a wait for a condition
	b, err := ReadTimerList(root)
	if err != nil {
		return 0, errors.Join(errConfig, err)
	}
	return HZFromTimerLists(a, b)
}

// TimerList is what /proc/timer_list says about the kernel's clocks: the
// monotonic time it was read at and the jiffies of the first CPU then.
type TimerList struct {
	Now     time.Duration // CLOCK_MONOTONIC, from "now at N nsecs"
	Jiffies int64         // from the first "jiffies: N"
}

// ErrNoJiffies means a timer list holds no "now at" or "jiffies:" line.
var ErrNoJiffies = errors.New("kernel: no jiffies in timer list")

// ParseTimerList reads the head of /proc/timer_list.
func ParseTimerList(r io.Reader) (TimerList, error) {
	var tl TimerList
	var haveNow, haveJ bool
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() && !(haveNow && haveJ) {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "now at "); ok && !haveNow {
			v, _ = strings.CutSuffix(v, " nsecs")
			ns, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ns < 0 {
				return TimerList{}, fmt.Errorf("kernel: bad timer list line %q", line)
			}
			tl.Now, haveNow = time.Duration(ns), true
		}
		if v, ok := strings.CutPrefix(line, "jiffies: "); ok && !haveJ {
			j, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return TimerList{}, fmt.Errorf("kernel: bad timer list line %q", line)
			}
			tl.Jiffies, haveJ = int64(j), true
		}
	}
	if !(haveNow && haveJ) {
		return TimerList{}, ErrNoJiffies
	}
	return tl, nil
}

// ReadTimerList reads root's proc/timer_list (root only).
func ReadTimerList(root string) (TimerList, error) {
	f, err := os.Open(filepath.Join(root, "proc/timer_list"))
	if err != nil {
		return TimerList{}, fmt.Errorf("kernel: %w", err)
	}
	defer f.Close()
	return ParseTimerList(f)
}

// HZFromTimerLists estimates the tick rate from two timer-list readings
// taken apart in time, snapped to the nearest of CommonHZ.
func HZFromTimerLists(a, b TimerList) (int, error) {
	dt := b.Now - a.Now
	if dt < 50*time.Millisecond || b.Jiffies <= a.Jiffies {
		return 0, fmt.Errorf("kernel: timer lists %v apart with %d jiffies: too close to tell HZ", dt, b.Jiffies-a.Jiffies)
	}
	rate := float64(b.Jiffies-a.Jiffies) / dt.Seconds()
	best := 0
	for _, hz := range CommonHZ() {
		if best == 0 || abs(rate-float64(hz)) < abs(rate-float64(best)) {
			best = hz
		}
	}
	return best, nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// JiffiesDuration converts a count of jiffies the kernel reports (a
// timer's horizon, tcp_keepalive_time as stored) to time at hz; zero when
// hz is unknown (≤ 0): a count of ticks of unknown length says nothing.
func JiffiesDuration(hz int, j int64) time.Duration {
	w, err := NewWheel(hz)
	if err != nil {
		return 0
	}
	return w.Duration(j)
}

// JiffiesToMsecs is the kernel's jiffies_to_msecs at hz: j ticks in
// milliseconds, rounded up (exact where HZ divides 1000); what tcp_info's
// tcpi_last_* and inet_diag's idiag_expires report. Zero when hz is
// unknown.
func JiffiesToMsecs(hz int, j uint64) uint32 {
	if hz <= 0 {
		return 0
	}
	return uint32((j*1000 + uint64(hz) - 1) / uint64(hz))
}

// JiffiesToUsecs is the kernel's jiffies_to_usecs at hz, rounded up:
// what tcp_info's tcpi_rto reports. Zero when hz is unknown.
func JiffiesToUsecs(hz int, j uint64) uint32 {
	if hz <= 0 {
		return 0
	}
	return uint32((j*1000000 + uint64(hz) - 1) / uint64(hz))
}

// KeepaliveSeconds is what getsockopt TCP_KEEPIDLE or TCP_KEEPINTVL
// returns for a keepalive time the kernel holds as j jiffies at hz: j/HZ
// whole seconds, rounded down. Zero when hz is unknown.
func KeepaliveSeconds(hz int, j int64) time.Duration {
	if hz <= 0 {
		return 0
	}
	return time.Duration(j/int64(hz)) * time.Second
}

// HZFromKeepaliveTime is HZ as a namespace's tcp_keepalive_time tells it:
// the kernel stores the sysctl (whole seconds) as seconds × HZ jiffies,
// so a reading of both (jiffies from the kernel's own memory, seconds
// from proc/sys) gives HZ, with no kernel config and no wait. The error
// says why the two do not fit.
func HZFromKeepaliveTime(jiffies int64, sysctl time.Duration) (int, error) {
	secs := int64(sysctl / time.Second)
	if secs <= 0 || jiffies <= 0 || jiffies%secs != 0 {
		return 0, fmt.Errorf("kernel: tcp_keepalive_time of %d jiffies and %v: not seconds × HZ", jiffies, sysctl)
	}
	return int(jiffies / secs), nil
}
