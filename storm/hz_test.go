package storm

import (
	"strings"
	"testing"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/google/go-cmp/cmp"
)

func TestClockAt(t *testing.T) {
	tl := kernel.TimerList{Now: 1000*time.Millisecond + 1*time.Millisecond, Jiffies: 500}
	got := ClockAt(tl, 250, 1010*time.Millisecond)
	want := Clock{HZ: 250, Jiffies: 502, SinceTick: 2 * time.Millisecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestIntegrationHostHZ(t *testing.T) {
	hz, err := HostHZ()
	if err != nil {
		t.Skipf("no kernel config or timer list here: %v", err)
	}
	switch hz {
	case 100, 250, 300, 1000:
	default:
		t.Errorf("HostHZ = %d, want one of 100, 250, 300, 1000", hz)
	}
}

func TestParseSoftnetDrops(t *testing.T) {
	in := "0019333e 00002287 00000000\n001a9df2 000072b6 00000001\n"
	got, err := ParseSoftnetDrops(strings.NewReader(in))
	if err != nil || got != 0x2287+0x72b6 {
		t.Errorf("got %d, %v; want %d", got, err, 0x2287+0x72b6)
	}
	if _, err := ParseSoftnetDrops(strings.NewReader("1 zz\n")); err == nil {
		t.Error("bad hex: want an error")
	}
}
