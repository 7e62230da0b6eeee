package lab

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/testutil"
	"github.com/flatline-dev/flatline/storm"
)

// TestIntegrationStorm runs a small storm (300 connections, keepalive from
// a 6 s timeout) on a policed link: static timers lose most connections,
// flatline's spreading none, the measured worst bursts agree with the
// model, and the router's capture gives the same keepalive count as
// tshark when tshark is installed.
func TestIntegrationStorm(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var pcaps []string
	cfg := StormConfig{
		Conns:      300,
		Config:     flatline.Config{Timeout: 6 * time.Second},
		Strategies: []storm.Strategy{storm.Static, storm.Flatline},
		Holder:     testEndpoint(t),
		Progress:   func(s string) { t.Log(s) },
		Frames: func(s storm.Strategy, frames []storm.Frame) {
			name := filepath.Join(dir, string(s)+".pcap")
			if err := writeFrames(name, frames); err != nil {
				t.Errorf("write %s: %v", name, err)
				return
			}
			pcaps = append(pcaps, name)
		},
	}
	res, err := RunStorm(ctx, cfg)
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skipf("lab not supported here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	byName := map[storm.Strategy]StormStrategy{}
	for _, r := range res.Strategies {
		byName[r.Name] = r
		// Model error: exact when nothing is dropped; after drops the model
		// orders packets differently from the router (all probes, then all
		// answers), which moves later bursts. Allow 15% and 3 probes, plus
		// the spread of the model over the library's unknown random draws.
		slack := max(3, r.PredictedWorstBurst*15/100) + r.PredictedRange[1] - r.PredictedRange[0]
		if d := r.WorstBurst - r.PredictedWorstBurst; d > slack || d < -slack {
			t.Errorf("%s: measured worst burst %d, model %d (range %v): off by more than %d", r.Name, r.WorstBurst, r.PredictedWorstBurst, r.PredictedRange, slack)
		}
		// The same over the probes before their connection's first loss,
		// both sides counted alike: losses the model does not know of
		// (another program's traffic in a CPU backlog) move phases, and
		// this comparison leaves them out.
		if d := r.WorstBurstBeforeLoss - r.PredictedWorstBurstBeforeLoss; d > slack || d < -slack {
			t.Errorf("%s: measured worst burst before loss %d, model %d: off by more than %d", r.Name, r.WorstBurstBeforeLoss, r.PredictedWorstBurstBeforeLoss, slack)
		}
		if r.CaptureDrops > 0 {
			t.Errorf("%s: the capture lost %d frames: measured bursts are low", r.Name, r.CaptureDrops)
		}
	}
	if got := byName[storm.Static].FalseDead; got < cfg.Conns/2 {
		t.Errorf("static: %d of %d falsely dead, want at least half (the storm)", got, cfg.Conns)
	}
	if got := byName[storm.Flatline].FalseDead; got != 0 {
		t.Errorf("flatline: %d of %d falsely dead, want none", got, cfg.Conns)
	}

	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: capture not cross-checked")
		return
	}
	for _, name := range pcaps {
		want, err := testutil.TsharkKeepalives(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := storm.ReadCapture(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Probes) != want || want == 0 {
			t.Errorf("%s: %d keepalives, tshark counts %d", filepath.Base(name), len(c.Probes), want)
		}
	}
}

func writeFrames(name string, frames []storm.Frame) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := storm.WritePcap(f, frames); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
