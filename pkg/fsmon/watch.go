// Package fsmon is the watch loop shared by clp_sambamon and clp_nfsmon: a probe every interval
// under a time limit, a failure declared after so many failed probes in a row, pause, continue
// and stop by monitor ID from other processes, and the registry that keeps IDs unique.
//
// The package reports what happens as Events; it knows no message text. Package compat turns
// Events into the seed's alert messages, and the commands write those to the alert log.
package fsmon

import (
	"context"
	"errors"
	"syscall"
	"time"
)

// Kind says what an Event is.
type Kind int

// The events, with the seed message each becomes (seed 001 §8).
const (
	Started     Kind = iota + 1 // 1: the watcher has started
	Watching                    // 2: the first probe succeeded
	Stopping                    // 3: the watcher stops on request
	Terminating                 // 6: the watcher ends after a declared failure
	Paused                      // 7
	Continued                   // 8
	InUse                       // 14: another watcher holds the ID
	NotEnded                    // 15: -stop waited in vain
	SystemError                 // 42: Func and Errno
	EnvError                    // 61: the server's name or address could not be found; Errno
	Failed                      // the probe failed -c times in a row; Err is the last failure
	NotRunning                  // -pause/-continue: no watcher holds the ID (no seed message)
	NoRecord                    // -disp: the ID has no record (no seed message)
)

// Event is one thing a watcher or a control command reports.
type Event struct {
	Kind Kind
	// Err is the probe's error (Failed) or the underlying error (SystemError, EnvError).
	Err error
	// Func and Errno name a failed system call (SystemError), Errno a failed lookup (EnvError).
	Func  string
	Errno syscall.Errno
}

// Reporter receives events. It is called from the goroutine that runs the watcher or command.
type Reporter func(Event)

// Control is a request to a running watcher.
type Control int

// The requests, sent by -pause, -continue and -stop through signals.
const (
	Pause Control = iota + 1
	Continue
	Stop
)

// Outcome is how a watch ended.
type Outcome int

// The outcomes.
const (
	// StoppedOnRequest: -stop or a termination signal.
	StoppedOnRequest Outcome = iota + 1
	// FailureDeclared: the probe failed Retries times in a row.
	FailureDeclared
	// Cancelled: the context ended.
	Cancelled
)

// Probe checks the server once. It must return promptly when ctx is done; an error after ctx was
// cancelled (rather than timed out) is not counted.
type Probe func(ctx context.Context) error

// WatchConfig is the timing of a watch (seed 001 §7.4: -i, -c, -r).
type WatchConfig struct {
	// Interval is the wait between the end of one probe and the start of the next.
	Interval time.Duration
	// Retries is how many failed probes in a row declare a failure.
	Retries int
	// Timeout bounds each probe.
	Timeout time.Duration
	Probe   Probe
}

// Watch probes until a failure is declared, a Stop arrives, or ctx ends. The first probe runs at
// once. Pause stops probing (an in-flight probe is abandoned) and forgets earlier failures;
// Continue probes again at once. Every Pause and Continue is acknowledged with an event, even a
// redundant one, so that the operator who sent it sees it arrive.
func Watch(ctx context.Context, cfg WatchConfig, ctl <-chan Control, report Reporter) Outcome {
	if cfg.Retries < 1 {
		cfg.Retries = 1
	}
	type result struct{ err error }
	var (
		failures  int
		announced bool
		paused    bool
		inflight  context.CancelFunc
		results   = make(chan result, 1)
		timer     = time.NewTimer(0) // the first probe: now
	)
	defer timer.Stop()
	abandon := func() {
		if inflight != nil {
			inflight()
			<-results // probes return promptly once cancelled
			inflight = nil
		}
	}
	defer abandon()
	for {
		select {
		case <-ctx.Done():
			return Cancelled
		case c := <-ctl:
			switch c {
			case Stop:
				abandon()
				report(Event{Kind: Stopping})
				return StoppedOnRequest
			case Pause:
				abandon()
				timer.Stop()
				paused, failures = true, 0
				report(Event{Kind: Paused})
			case Continue:
				report(Event{Kind: Continued})
				if paused {
					paused = false
					timer.Reset(0)
				}
			}
		case <-timer.C:
			if paused || inflight != nil {
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			inflight = cancel
			go func() { results <- result{cfg.Probe(pctx)} }()
		case r := <-results:
			inflight()
			inflight = nil
			if r.err != nil && errors.Is(r.err, context.Canceled) && ctx.Err() != nil {
				return Cancelled
			}
			if r.err == nil {
				failures = 0
				if !announced {
					announced = true
					report(Event{Kind: Watching})
				}
			} else {
				failures++
				if failures >= cfg.Retries {
					report(Event{Kind: Failed, Err: r.err})
					report(Event{Kind: Terminating})
					return FailureDeclared
				}
			}
			timer.Reset(cfg.Interval)
		}
	}
}
