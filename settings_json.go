package flatline

import (
	"encoding/json"
	"math"
	"time"
)

// settingsJSON is the one JSON form of Settings that every flatline command
// prints (plan, apply, enforce, inspect, trace, storms): durations are
// seconds, as numbers, in fields ending in _s, as everywhere in flatline's
// JSON.
type settingsJSON struct {
	KeepAlive    bool    `json:"keepalive"`
	IdleS        float64 `json:"idle_s"`
	IntervalS    float64 `json:"interval_s"`
	Count        int     `json:"count"`
	UserTimeoutS float64 `json:"user_timeout_s"`
	SynCount     int     `json:"syn_count,omitempty"`
	RTOMaxS      float64 `json:"rto_max_s,omitempty"`
}

// MarshalJSON writes s as {"keepalive", "idle_s", "interval_s", "count",
// "user_timeout_s", "syn_count", "rto_max_s"}: durations in seconds,
// user_timeout_s 0 for none, syn_count and rto_max_s left out when zero.
func (s Settings) MarshalJSON() ([]byte, error) {
	return json.Marshal(settingsJSON{
		KeepAlive: s.KeepAlive, IdleS: s.Idle.Seconds(), IntervalS: s.Interval.Seconds(),
		Count: s.Count, UserTimeoutS: s.UserTimeout.Seconds(), SynCount: s.SynCount,
		RTOMaxS: s.RTOMax.Seconds(),
	})
}

// UnmarshalJSON reads what MarshalJSON writes, rounding durations to the
// millisecond (TCP_USER_TIMEOUT's unit).
func (s *Settings) UnmarshalJSON(b []byte) error {
	var j settingsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Settings{
		KeepAlive: j.KeepAlive, Idle: fromSeconds(j.IdleS), Interval: fromSeconds(j.IntervalS),
		Count: j.Count, UserTimeout: fromSeconds(j.UserTimeoutS), SynCount: j.SynCount,
		RTOMax: fromSeconds(j.RTOMaxS),
	}
	return nil
}

// fromSeconds is s seconds as a Duration, to the millisecond.
func fromSeconds(s float64) time.Duration {
	return time.Duration(math.Round(s*1000)) * time.Millisecond
}
