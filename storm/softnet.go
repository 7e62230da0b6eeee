package storm

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseSoftnetDrops sums the second column of /proc/net/softnet_stat: the
// packets each CPU dropped because its input backlog
// (net.core.netdev_max_backlog) was full. veth delivers through that
// backlog, so a burst of more than netdev_max_backlog probes from one CPU
// in one tick loses the rest in the sending host before any link sees it.
func ParseSoftnetDrops(r io.Reader) (uint64, error) {
	var sum uint64
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseUint(f[1], 16, 32)
		if err != nil {
			return 0, fmt.Errorf("storm: softnet_stat: %w", err)
		}
		sum += v
	}
	return sum, sc.Err()
}
