// Package procwatch identifies processes across daemon restarts and learns of their exit at once
// through pidfd, including processes that are not our children.
package procwatch

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Identity names one process for good: a pid alone can be reused, a pid with its start time
// (clock ticks since boot, /proc/PID/stat field 22) cannot.
type Identity struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Identify reads pid's start time from procRoot (normally "/proc").
func Identify(procRoot string, pid int) (Identity, error) {
	st, err := Stat(procRoot, pid)
	if err != nil {
		return Identity{}, err
	}
	return Identity{PID: pid, Start: st.Start}, nil
}

// Alive reports whether the process named by id still runs (a zombie counts as gone).
func Alive(procRoot string, id Identity) bool {
	if id.PID <= 0 {
		return false
	}
	st, err := Stat(procRoot, id.PID)
	// A multi-threaded program whose main thread ended shows its leader as a zombie while its
	// other threads still run (and hold its sockets): it is alive until all have ended.
	return err == nil && st.Start == id.Start && (!st.Exited() || st.State == 'Z' && st.Threads > 1)
}

// Wait blocks until the process named by id has exited, or ctx ends. It works for processes that
// are not children of the caller (it does not reap them), so a restarted daemon can watch the
// scripts its predecessor left running.
func Wait(ctx context.Context, procRoot string, id Identity) error {
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("watching process %d: %w", id.PID, err)
	}
	defer unix.Close(fd)
	// The pid may have been reused between the caller's identification and pidfd_open.
	if !Alive(procRoot, id) {
		return nil
	}
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		// Poll in short slices so a cancelled ctx is noticed without a second wake-up fd.
		n, err := unix.Poll(fds, 200)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("watching process %d: %w", id.PID, err)
		}
		if n > 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
