package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/pkg/procwatch"
)

// PIDFile is pidw on a pid file: the process whose pid the file holds must be running.
type PIDFile struct {
	Path     string
	ProcRoot string // "" means /proc
}

// maxPIDFile bounds what is read of a pid file: a pid is a few digits, and a path pointing at
// a huge file by mistake must not make every check read all of it.
const maxPIDFile = 4096

// maxPID is the kernel's PID_MAX_LIMIT: a larger number cannot be a pid.
const maxPID = 1 << 22

// Check reads the pid and fails when the file is missing or holds no pid, or when the process
// is gone or a zombie.
func (p PIDFile) Check(ctx context.Context) error {
	return bounded(ctx, p.check, func(d time.Duration) error {
		return timeoutf("pid file %s could not be checked within %s", p.Path, d)
	})
}

func (p PIDFile) check() error {
	f, err := os.Open(p.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pid file %s: no such file", p.Path)
	}
	if err != nil {
		return fmt.Errorf("pid file %s: %w", p.Path, bare(err))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPIDFile))
	f.Close()
	if err != nil {
		return fmt.Errorf("pid file %s: %w", p.Path, bare(err))
	}
	pid, err := parsePID(b)
	if err != nil {
		return fmt.Errorf("pid file %s: %w", p.Path, err)
	}
	if why, dead := notRunning(procRoot(p.ProcRoot), pid); dead {
		return fmt.Errorf("process %d of %s is not running%s", pid, p.Path, why)
	}
	return nil
}

// parsePID takes the first word of a pid file. Daemons write "1234\n", some "1234" or
// "1234 extra" (a start time, a port); anything else is garbage, not pid 0.
func parsePID(b []byte) (int, error) {
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0, errors.New("it holds no pid")
	}
	w := f[0]
	if len(w) > 16 {
		w = append(w[:16:16], "..."...)
	}
	pid, err := strconv.Atoi(string(f[0]))
	if err != nil || pid <= 0 || pid > maxPID {
		return 0, fmt.Errorf("%q is not a pid", w)
	}
	return pid, nil
}

// notRunning returns "" when pid runs, and otherwise what the operator is told after "is not
// running": nothing for a process that is gone, " (zombie)" for one that has ended but whose
// parent has not collected its status yet.
func notRunning(root string, pid int) (why string, dead bool) {
	st, err := procwatch.Stat(root, pid)
	if err != nil {
		return "", true
	}
	switch st.State {
	case 'Z':
		return " (zombie)", true
	case 'X', 'x':
		return "", true
	}
	return "", false
}

// PIDWatch is pidw on a known process: it reports the moment the process ends.
type PIDWatch struct {
	PID      int
	ProcRoot string // "" means /proc

	// procOnly skips pidfd, so that tests reach the /proc polling a kernel before 5.3 gets.
	procOnly bool
}

// procPoll is how often the process is looked for in /proc when no pidfd can tell at once.
const procPoll = 100 * time.Millisecond

// Watch reports nil while the process runs and an error the moment it ends; a process that
// has ended stays ended, so Watch then only waits for ctx.
func (w PIDWatch) Watch(ctx context.Context, report func(error)) {
	if ctx.Err() != nil {
		return
	}
	root := procRoot(w.ProcRoot)
	if !w.procOnly {
		if done := w.watchPidfd(ctx, report); done {
			return
		}
	}
	if why, dead := notRunning(root, w.PID); dead {
		report(fmt.Errorf("process %d is not running%s", w.PID, why))
		<-ctx.Done()
		return
	}
	report(nil)
	every(ctx, procPoll, func() bool {
		_, dead := notRunning(root, w.PID)
		if dead {
			report(fmt.Errorf("process %d ended", w.PID))
		}
		return !dead
	})
	<-ctx.Done()
}

// watchPidfd watches through a pidfd, which becomes readable when the process exits (zombie
// included), so the report comes straight from the kernel. It returns false, having reported
// nothing, when no pidfd can be had.
func (w PIDWatch) watchPidfd(ctx context.Context, report func(error)) bool {
	fd, err := unix.PidfdOpen(w.PID, unix.PIDFD_NONBLOCK)
	if err == unix.EINVAL {
		// PIDFD_NONBLOCK came with 5.10; pidfd_open itself with 5.3.
		if fd, err = unix.PidfdOpen(w.PID, 0); err == nil {
			err = unix.SetNonblock(fd, true)
			if err != nil {
				unix.Close(fd)
			}
		}
	}
	if err == unix.ESRCH {
		report(fmt.Errorf("process %d is not running", w.PID))
		<-ctx.Done()
		return true
	}
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	if exited(fd) {
		report(fmt.Errorf("process %d is not running (zombie)", w.PID))
		<-ctx.Done()
		return true
	}
	report(nil)
	rc, err := f.SyscallConn()
	// A deadline is how the Go poller's wait is interrupted; a file it cannot poll refuses one.
	if err == nil {
		err = f.SetReadDeadline(time.Time{})
	}
	if err != nil {
		// Keep the pidfd, sleeping in poll(2) in slices so that ctx is still heard.
		for ctx.Err() == nil {
			if n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(procPoll/time.Millisecond)); n > 0 {
				report(fmt.Errorf("process %d ended", w.PID))
				<-ctx.Done()
				return true
			}
		}
		return true
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	err = rc.Read(func(fd uintptr) bool { return exited(int(fd)) })
	if err == nil {
		report(fmt.Errorf("process %d ended", w.PID))
		<-ctx.Done()
	}
	return true
}

// exited reports whether the pidfd is readable, which is how the kernel says the process ended.
func exited(fd int) bool {
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		// The Go poller is edge-triggered: an answer lost to EINTR would never come again.
		if err != unix.EINTR {
			return err == nil && n > 0
		}
	}
}
