// Package procwatch identifies processes across daemon restarts and learns of their exit at once
// through pidfd, including processes that are not our children.
package procwatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

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
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Identity{}, fmt.Errorf("reading process %d: %w", pid, err)
	}
	start, err := parseStart(string(b))
	if err != nil {
		return Identity{}, fmt.Errorf("process %d: %w", pid, err)
	}
	return Identity{PID: pid, Start: start}, nil
}

// parseStart takes field 22 of a /proc/PID/stat line. The command name (field 2) is in
// parentheses and may itself hold spaces and ')', so fields are counted after the last ')'.
func parseStart(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed stat line")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return 0, errors.New("short stat line")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// Alive reports whether the process named by id still runs (a zombie counts as gone).
func Alive(procRoot string, id Identity) bool {
	if id.PID <= 0 {
		return false
	}
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(id.PID) + "/stat")
	if err != nil {
		return false
	}
	start, err := parseStart(string(b))
	if err != nil || start != id.Start {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b)[i+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
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
