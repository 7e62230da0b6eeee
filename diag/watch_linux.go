package diag

import (
	"context"
	"time"
)

// Watch polls the sockets Options selects every WatchOptions.Interval and
// calls fn for each transition of timer kind or TCP state, in the order
// seen; the first poll reports every socket as appeared. It returns nil
// when the context ends or the polls are done, fn's error, or the error
// of opening or dumping. Options.PID restricts it to that process's
// sockets (its fds are read again at every poll); owners and options are
// not read otherwise.
func Watch(ctx context.Context, o Options, w WatchOptions, fn func(Transition) error) error {
	t, err := openTarget(o)
	if err != nil {
		return err
	}
	defer t.conn.Close()
	interval := w.Interval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var prev map[uint64]watchState
	var cur []DiagMsg
	for poll := 0; w.Polls == 0 || poll < w.Polls; poll++ {
		if poll > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
		var mine *owners
		if o.PID != 0 {
			own, err := walkOwners(o.PID)
			if err != nil {
				return err
			}
			mine = &own
		}
		cur = cur[:0]
		if _, err := t.conn.dump(o.states(), func(m DiagMsg) error {
			if mine != nil && (m.Inode == 0 || mine.of(m.Inode) == nil) {
				return nil
			}
			cur = append(cur, m)
			return nil
		}); err != nil {
			return err
		}
		var trans []Transition
		trans, prev = diffPoll(prev, cur, time.Now())
		for _, tr := range trans {
			if err := fn(tr); err != nil {
				return err
			}
		}
	}
	return nil
}
