// Package monitor holds the monitor kinds: each either checks once (Probe) or watches and
// reports changes (Watcher). The cluster engine decides when to check, counts retries and
// recovers.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Probe checks once; nil means normal. Check must return by ctx's deadline even if the thing
// it checks hangs.
type Probe interface {
	Check(ctx context.Context) error
}

// Watcher watches until ctx ends, calling report with nil when healthy and an error when not,
// each time health changes (and once at start with the initial state). report must not be
// called after Watch returns.
type Watcher interface {
	Watch(ctx context.Context, report func(error))
}

// The kinds, as the engine will hold them.
var (
	_ Probe   = (*Script)(nil)
	_ Watcher = (*Script)(nil)
	_ Probe   = PIDFile{}
	_ Watcher = PIDWatch{}
	_ Probe   = Process{}
	_ Probe   = Ping{}
	_ Probe   = (*Disk)(nil)
	_ Probe   = Link{}
	_ Watcher = Link{}
)

// ErrTimeout is wrapped by errors that mean "the check did not finish in time": the engine,
// not the monitor, decides whether a timeout counts as an error, so it must be able to tell
// one apart with errors.Is.
var ErrTimeout = errors.New("timed out")

// timeoutError carries an operator's message ("script /x did not end within 2s") while still
// matching ErrTimeout; wrapping with %w would append ": timed out" to a text that already says so.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }
func (e *timeoutError) Unwrap() error { return ErrTimeout }

func timeoutf(format string, args ...any) error {
	return &timeoutError{msg: fmt.Sprintf(format, args...)}
}

// human rounds a measured duration so that a deadline of 2s reads "2s", not "2.000314159s".
func human(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// bounded runs f in a goroutine and returns its error, or a timeout error built by late when
// ctx ends first. The goroutine then finishes on its own whenever f returns: a read of /proc
// or of a pid file on a hung NFS mount can block in the kernel where nothing can interrupt it,
// and the engine must still get an answer by its deadline.
func bounded(ctx context.Context, f func() error, late func(time.Duration) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return late(human(time.Since(start)))
		}
		return ctx.Err()
	}
}

// procRoot defaults the /proc mount point; tests and containers may point it elsewhere.
func procRoot(p string) string {
	if p == "" {
		return "/proc"
	}
	return p
}

// every calls f once a period until ctx ends or f returns false: the polling a watcher falls
// back to when the kernel cannot tell it of a change.
func every(ctx context.Context, period time.Duration, f func() bool) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !f() {
				return
			}
		}
	}
}
