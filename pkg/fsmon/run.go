package fsmon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"clpkit/pkg/procwatch"
)

// Exit statuses of the monitor commands (documented in clp_sambamon(8) and clp_nfsmon(8)).
const (
	ExitOK = 0
	// ExitFailure: the server was declared unhealthy; the watcher has ended so that the
	// cluster's pid monitor fails over.
	ExitFailure = 1
	// ExitUsage: the command line was refused (messages 11, 12, 13).
	ExitUsage = 2
	// ExitInUse: the monitor ID is held by a running watcher (message 14).
	ExitInUse = 3
	// ExitNotDone: -stop waited in vain (message 15), or -pause, -continue or -disp found no
	// watcher or record for the ID.
	ExitNotDone = 4
	// ExitSystem: a system error (messages 42 and 61).
	ExitSystem = 5
)

// Op is what a command invocation does.
type Op int

// The operations of seed 001 §7.4.
const (
	OpWatch Op = iota
	OpStop
	OpPause
	OpContinue
	OpDisp
	OpDel
)

// Request is one invocation of a monitor command.
type Request struct {
	Op Op
	ID string
	// Wait is how long -stop waits for the watcher to end.
	Wait time.Duration
	// Watch is the timing and probe of OpWatch.
	Watch WatchConfig
}

// Signals are the signals a watcher handles. SIGUSR1 pauses it and SIGUSR2 resumes it (what
// -pause and -continue send); SIGTERM (-stop, and clpd stopping an asynchronous start script),
// SIGINT and SIGHUP stop it cleanly.
func Signals() []os.Signal {
	return []os.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP}
}

func controlOf(s os.Signal) Control {
	switch s {
	case syscall.SIGUSR1:
		return Pause
	case syscall.SIGUSR2:
		return Continue
	}
	return Stop
}

// Run carries out req and returns the exit status. Everything worth a message goes to report;
// the only output is -disp's pid on stdout.
func Run(ctx context.Context, reg Registry, req Request, report Reporter, stdout io.Writer) int {
	switch req.Op {
	case OpWatch:
		return runWatcher(ctx, reg, req, report)
	case OpStop:
		return runStop(ctx, reg, req, report)
	case OpPause, OpContinue:
		sig := syscall.SIGUSR1
		if req.Op == OpContinue {
			sig = syscall.SIGUSR2
		}
		if _, err := signalWatcher(ctx, reg, req.ID, sig); err != nil {
			return reportControlError(err, report)
		}
		return ExitOK
	case OpDisp:
		st, err := reg.Lookup(req.ID)
		if err != nil {
			return reportControlError(err, report)
		}
		if !st.Found || st.Record.PID == 0 {
			report(Event{Kind: NoRecord})
			return ExitNotDone
		}
		fmt.Fprintln(stdout, st.Record.PID)
		return ExitOK
	case OpDel:
		if err := reg.Delete(req.ID); err != nil {
			return reportControlError(err, report)
		}
		return ExitOK
	}
	report(Event{Kind: SystemError, Func: "run", Errno: syscall.EINVAL, Err: fmt.Errorf("unknown operation %d", req.Op)})
	return ExitSystem
}

func reportControlError(err error, report Reporter) int {
	var se *SysError
	switch {
	case errors.Is(err, ErrInUse):
		report(Event{Kind: InUse})
		return ExitInUse
	case errors.Is(err, errNotRunning):
		report(Event{Kind: NotRunning})
		return ExitNotDone
	case errors.As(err, &se):
		report(Event{Kind: SystemError, Func: se.Func, Errno: se.Errno, Err: err})
		return ExitSystem
	case ctxErr(err):
		return ExitNotDone
	}
	report(Event{Kind: SystemError, Func: "control", Errno: syscall.EIO, Err: err})
	return ExitSystem
}

func ctxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func runWatcher(ctx context.Context, reg Registry, req Request, report Reporter) int {
	// Handlers first: -pause may arrive the moment the record exists, and SIGUSR1's default
	// action would kill the watcher.
	sigc := make(chan os.Signal, 8)
	signal.Notify(sigc, Signals()...)
	defer signal.Stop(sigc)

	entry, err := reg.Acquire(req.ID)
	if err != nil {
		return reportControlError(err, report)
	}
	report(Event{Kind: Started})

	ctl := make(chan Control, 8)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for {
			select {
			case <-wctx.Done():
				return
			case s := <-sigc:
				select {
				case ctl <- controlOf(s):
				case <-wctx.Done():
					return
				}
			}
		}
	}()
	out := Watch(wctx, req.Watch, ctl, report)
	cancel()
	if err := entry.Release(); err != nil {
		var se *SysError
		if errors.As(err, &se) {
			report(Event{Kind: SystemError, Func: se.Func, Errno: se.Errno, Err: err})
		}
	}
	switch out {
	case FailureDeclared:
		return ExitFailure
	case Cancelled:
		return ExitNotDone
	}
	return ExitOK
}

var errNotRunning = errors.New("no watcher runs with this monitor id")

// signalWatcher sends sig to the watcher holding id. The record is checked against the process
// (pid and start time), so a pid reused since can never be signalled; a watcher that has locked
// the ID but not yet written its record is waited for, briefly.
func signalWatcher(ctx context.Context, reg Registry, id string, sig syscall.Signal) (Record, error) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, err := reg.Lookup(id)
		if err != nil {
			return Record{}, err
		}
		if !st.Live {
			return Record{}, errNotRunning
		}
		rec := st.Record
		if rec.PID > 0 && procwatch.Alive("/proc", procwatch.Identity{PID: rec.PID, Start: rec.Start}) {
			if err := syscall.Kill(rec.PID, sig); err != nil {
				if errors.Is(err, syscall.ESRCH) {
					continue // it ended just now: look again
				}
				return rec, sysErr("kill", err)
			}
			return rec, nil
		}
		if time.Now().After(deadline) {
			return Record{}, errNotRunning
		}
		select {
		case <-ctx.Done():
			return Record{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// runStop sends SIGTERM to the watcher and waits up to req.Wait for it to give the ID up. No
// watcher is success: stop.sh runs -stop after a watcher that declared a failure has ended, and
// that stop must not fail. A record left by a killed watcher is removed on the way.
func runStop(ctx context.Context, reg Registry, req Request, report Reporter) int {
	_, err := signalWatcher(ctx, reg, req.ID, syscall.SIGTERM)
	if errors.Is(err, errNotRunning) {
		if derr := reg.Delete(req.ID); derr != nil && !errors.Is(derr, ErrInUse) {
			return reportControlError(derr, report)
		}
		return ExitOK
	}
	if err != nil {
		return reportControlError(err, report)
	}
	deadline := time.NewTimer(req.Wait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := reg.Lookup(req.ID)
		if err != nil {
			return reportControlError(err, report)
		}
		if !st.Live {
			return ExitOK
		}
		select {
		case <-ctx.Done():
			report(Event{Kind: NotEnded})
			return ExitNotDone
		case <-deadline.C:
			report(Event{Kind: NotEnded})
			return ExitNotDone
		case <-tick.C:
		}
	}
}
