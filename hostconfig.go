package flatline

import (
	"bufio"
	"bytes"
	"strconv"
)

// ParseKernelConfigHZ returns CONFIG_HZ from the text of a kernel config
// (/proc/config.gz uncompressed, or /boot/config-*), or 0 if absent or
// malformed.
func ParseKernelConfigHZ(config []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(config))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		v, ok := bytes.CutPrefix(sc.Bytes(), []byte("CONFIG_HZ="))
		if !ok {
			continue
		}
		hz, err := strconv.Atoi(string(bytes.TrimSpace(v)))
		if err != nil || hz <= 0 || hz > 100000 {
			return 0
		}
		return hz
	}
	return 0
}
