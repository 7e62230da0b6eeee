package flatline

import (
	"encoding/json"
	"testing"
	"time"
)

func TestSettingsJSON(t *testing.T) {
	s := Settings{KeepAlive: true, Idle: 8 * time.Second, Interval: 5 * time.Second, Count: 3, UserTimeout: 22600 * time.Millisecond}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"keepalive":true,"idle_s":8,"interval_s":5,"count":3,"user_timeout_s":22.6}`
	if string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var back Settings
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != s {
		t.Errorf("round trip = %+v, want %+v", back, s)
	}
	if err := json.Unmarshal([]byte(`{"idle_s":"8"}`), &back); err == nil {
		t.Error("a string for idle_s was accepted")
	}
}
