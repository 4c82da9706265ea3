package probe

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// checkState is what one readiness check last found.
type checkState struct {
	reason    string   // why it does not pass, in the contract's words; "" when it passes
	listening []string // tcp and unix checks: the tree's sockets, when known
	status    string   // notify: the last STATUS=
}

func (s checkState) equal(o checkState) bool {
	return s.reason == o.reason && s.status == o.status && slices.Equal(s.listening, o.listening)
}

// check is one readiness check. run blocks until the check passes (true) or
// ctx is done, or it cannot pass any more (false). It reports its state
// first at once and then whenever it changes; the last report of a check
// that passes has an empty reason. report never blocks past ctx.
type check interface {
	run(ctx context.Context, report func(checkState)) bool
}

// poller is a check made of attempts.
type poller interface {
	// attempt looks once, and says when to look again if it did not pass.
	attempt(ctx context.Context) (checkState, time.Duration)
}

// polled runs a poller as a check, on one reused timer.
type polled struct{ poller }

func (p polled) run(ctx context.Context, report func(checkState)) bool {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var last checkState
	for first := true; ; first = false {
		st, next := p.attempt(ctx)
		if first || !st.equal(last) {
			report(st)
			last = st
		}
		if st.reason == "" {
			return true
		}
		timer.Reset(next)
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
		}
	}
}

// every is a poller that calls fn at a fixed interval; fn returns "" when
// the check passes, else why not.
type every struct {
	fn       func(context.Context) string
	interval time.Duration
}

func (e every) attempt(ctx context.Context) (checkState, time.Duration) {
	return checkState{reason: e.fn(ctx)}, e.interval
}

// startDelay is how long the tcp and unix checks wait between two looks
// while a process starts, elapsed after its spawn: 1ms for the first 100ms
// (a bind is seen within about a millisecond), then slowing down linearly to
// 10ms at 550ms, which costs well under 1% of a core.
func startDelay(elapsed time.Duration) time.Duration {
	const fast, slow, fastFor = time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond
	if elapsed < fastFor {
		return fast
	}
	return min(fast+(elapsed-fastFor)/50, slow)
}

// seconds formats d as the reasons show it: "2.1s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}
