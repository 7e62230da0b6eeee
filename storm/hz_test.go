package storm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseKernelConfigHZ(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
		wantErr  bool
	}{
		{"debian", "# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n", 250, false},
		{"1000", "CONFIG_HZ_1000=y\nCONFIG_HZ=1000", 1000, false},
		{"missing", "CONFIG_HZ_250=y\n", 0, true},
		{"garbage", "CONFIG_HZ=fast\n", 0, true},
		{"negative", "CONFIG_HZ=-1\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKernelConfigHZ(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if _, err := ParseKernelConfigHZ(strings.NewReader("")); !errors.Is(err, ErrNoHZ) {
		t.Errorf("empty config: %v, want ErrNoHZ", err)
	}
}

func TestParseTimerList(t *testing.T) {
	in := "Timer List Version: v0.10\nHRTIMER_MAX_CLOCK_BASES: 8\nnow at 943626273108 nsecs\n\ncpu: 0\n  .last_jiffies   : 4295128123\njiffies: 4295128124\ncpu: 1\njiffies: 1\n"
	got, err := ParseTimerList(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := TimerList{Now: 943626273108, Jiffies: 4295128124}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := ParseTimerList(strings.NewReader("now at 5 nsecs\n")); !errors.Is(err, ErrNoJiffies) {
		t.Errorf("no jiffies: %v, want ErrNoJiffies", err)
	}
}

func TestHZFromTimerLists(t *testing.T) {
	a := TimerList{Now: time.Second, Jiffies: 1000}
	b := TimerList{Now: time.Second + 100*time.Millisecond + 3*time.Millisecond, Jiffies: 1025}
	got, err := HZFromTimerLists(a, b)
	if err != nil || got != 250 {
		t.Errorf("got %d, %v; want 250", got, err)
	}
	if _, err := HZFromTimerLists(a, a); err == nil {
		t.Error("same reading twice: want an error")
	}
}

func TestClockAt(t *testing.T) {
	tl := TimerList{Now: 1000*time.Millisecond + 1*time.Millisecond, Jiffies: 500}
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
