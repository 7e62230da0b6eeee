package storm

import (
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

func TestPredict(t *testing.T) {
	f, err := Predict(flatline.Config{Timeout: 30 * time.Second}, 2000, 250, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v rec %+v", f, f.Recommended)
	byName := map[Strategy]int{}
	for _, s := range f.Strategies {
		byName[s.Strategy] = s.WorstBurst
	}
	if byName[Static] != 2000 {
		t.Errorf("static worst burst %d, want all 2000 together", byName[Static])
	}
	if byName[Flatline] < f.Floor || byName[Flatline] > 2*f.Floor {
		t.Errorf("flatline worst burst %d, want within [floor, 2·floor] = [%d, %d]", byName[Flatline], f.Floor, 2*f.Floor)
	}
	if byName[Jitter] <= byName[Flatline] {
		t.Errorf("jitter %d not worse than flatline %d", byName[Jitter], byName[Flatline])
	}
	if f.Recommended == nil || f.Recommended.WorstBurst > 100 {
		t.Errorf("recommendation %+v, want one within 100", f.Recommended)
	}
}

func TestPredictImpossible(t *testing.T) {
	f, err := Predict(flatline.Config{Timeout: 10 * time.Second}, 20000, 250, 1)
	if err != nil {
		t.Fatal(err)
	}
	if f.Recommended != nil {
		t.Errorf("recommended %+v for 20000 connections within bursts of 1", f.Recommended)
	}
}
