package monitor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/pkg/procwatch"
)

// Place, when set, gives a script an open cgroup v2 directory to be cloned into
// (SysProcAttr.UseCgroupFD/CgroupFD) and its path. The script's runner closes dir once the
// script has started.
type Place func() (dir *os.File, path string, err error)

// KillPath kills every process of the cgroup at path and waits until it is empty, or ctx ends.
type KillPath func(ctx context.Context, path string) error

// Script is a custom monitor (CLUSTERPRO genw). The script runs in its own directory with
// stdin on /dev/null, as CLUSTERPRO runs it, so a genw.sh written for it finds its files. Use
// it through a pointer: it remembers the pid of the script it runs.
type Script struct {
	Path string
	Args []string
	// Env is the script's whole environment; nil gives it the daemon's.
	Env []string
	// Log, when set, receives the script's stdout and stderr, appended; it is created 0644.
	// Without it the output goes to /dev/null.
	Log  string
	Nice int
	// NormalValue is the exit status that means normal in synchronous mode (Check).
	NormalValue int
	// Place and Kill put the script in a cgroup and kill that cgroup (Kill is used only with
	// Place). Both nil: the script runs in a process group of its own and is killed with
	// kill(-pgid, SIGKILL); a child that left that group (setsid, a double fork) then survives.
	Place Place
	Kill  KillPath
	// WaitStop is how long Watch waits, after SIGTERM, for the script to stop before killing
	// everything it started.
	WaitStop time.Duration

	pid atomic.Int64
}

// killWait bounds the wait for killed processes to be gone: SIGKILL cannot end a process
// stuck in uninterruptible sleep, and the engine must get its answer anyway. A Check that
// times out returns this much after its deadline at worst, and at once in the usual case.
const killWait = 2 * time.Second

// PID returns the pid of the script while it runs (in either mode), 0 otherwise.
func (s *Script) PID() int { return int(s.pid.Load()) }

// run is one started script.
type run struct {
	cmd    *exec.Cmd
	pgid   int
	cgroup string        // "" when the script was not placed in a cgroup
	done   chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait's, readable once done is closed
}

func (s *Script) start() (*run, error) {
	path, err := filepath.Abs(s.Path)
	if err != nil {
		return nil, fmt.Errorf("script %s: %w", s.Path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("script %s: %w", s.Path, bare(err))
	}
	if info.IsDir() {
		return nil, fmt.Errorf("script %s is a directory", s.Path)
	}
	name, args := path, s.Args
	if info.Mode()&0o111 == 0 {
		// CLUSTERPRO runs a genw.sh that lost its execute bit (copied from Windows, unpacked
		// by a tool that drops modes) with the shell rather than failing it.
		name, args = "/bin/sh", append([]string{path}, s.Args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = filepath.Dir(path)
	cmd.Env = s.Env
	// A process group of its own lets one kill(-pgid) reach the script's children, and keeps
	// a terminal's SIGINT to clpd away from the scripts.
	attr := &syscall.SysProcAttr{Setpgid: true}
	if s.Log != "" {
		// An *os.File is handed to the child as is; a pipe would make Wait wait for any
		// grandchild still holding it.
		out, err := os.OpenFile(s.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("script %s: log: %w", s.Path, err)
		}
		defer out.Close()
		cmd.Stdout, cmd.Stderr = out, out
	}
	r := &run{cmd: cmd, done: make(chan struct{})}
	if s.Place != nil {
		dir, cg, err := s.Place()
		if err != nil {
			return nil, fmt.Errorf("script %s: placing it in a cgroup: %w", s.Path, err)
		}
		defer dir.Close()
		attr.UseCgroupFD = true
		attr.CgroupFD = int(dir.Fd())
		r.cgroup = cg
	}
	cmd.SysProcAttr = attr
	err = cmd.Start()
	for try := 0; errors.Is(err, syscall.ETXTBSY) && try < 50; try++ {
		// The script was just written, and a child forked meanwhile (by any goroutine of clpd)
		// still holds the writer's descriptor until it execs: the kernel refuses to run a
		// file open for writing. The child's exec closes it within milliseconds.
		time.Sleep(10 * time.Millisecond)
		retry := exec.Command(cmd.Path, cmd.Args[1:]...)
		retry.Dir, retry.Env, retry.Stdout, retry.Stderr, retry.SysProcAttr = cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr, cmd.SysProcAttr
		cmd, r.cmd = retry, retry
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("script %s could not start: %w", s.Path, err)
	}
	r.pgid = cmd.Process.Pid
	if s.Nice != 0 {
		// Best effort: a script that runs at the wrong priority still tells the truth about
		// what it monitors, and ESRCH only means it already ended.
		_ = unix.Setpriority(unix.PRIO_PROCESS, cmd.Process.Pid, s.Nice)
	}
	s.pid.Store(int64(cmd.Process.Pid))
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	return r, nil
}

// bare drops the *PathError layer whose text would repeat the path the message already names.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ended returns the reaped script's exit status, or the name of the signal that killed it.
func (s *Script) ended(r *run) (status int, signal string, err error) {
	if r.err != nil {
		var ee *exec.ExitError
		if !errors.As(r.err, &ee) {
			return 0, "", fmt.Errorf("script %s: %w", s.Path, r.err)
		}
	}
	ws, ok := r.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return -1, unix.SignalName(ws.Signal()), nil
	}
	return r.cmd.ProcessState.ExitCode(), "", nil
}

// killAll kills everything the script started and waits, killWait at most in all, for it to be
// gone. It returns what went wrong, for the operator.
func (s *Script) killAll(r *run) error {
	ctx, cancel := context.WithTimeout(context.Background(), killWait)
	defer cancel()
	var errs []error
	// The group is killed first: that is immediate, while a cgroup kill waits for the cgroup
	// to empty.
	if err := unix.Kill(-r.pgid, unix.SIGKILL); err != nil && err != unix.ESRCH {
		errs = append(errs, fmt.Errorf("killing process group %d: %w", r.pgid, err))
	}
	if r.cgroup != "" && s.Kill != nil {
		if err := s.Kill(ctx, r.cgroup); err != nil {
			errs = append(errs, fmt.Errorf("killing cgroup %s: %w", r.cgroup, err))
		}
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("process %d did not die within %s of SIGKILL", r.pgid, killWait))
	}
	return errors.Join(errs...)
}

// Check runs the script once (synchronous mode) and compares its exit status with
// NormalValue. At ctx's deadline it kills everything the script started and returns an error
// wrapping ErrTimeout.
func (s *Script) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Measured from here, not from the start of the script, so that a 2s deadline reads "2s".
	begin := time.Now()
	r, err := s.start()
	if err != nil {
		return err
	}
	defer s.pid.Store(0)
	select {
	case <-r.done:
	case <-ctx.Done():
		select {
		case <-r.done:
			// It ended as the deadline passed: its verdict is worth more than a timeout.
		default:
			took := human(time.Since(begin))
			kerr := s.killAll(r)
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return errors.Join(fmt.Errorf("script %s: %w", s.Path, ctx.Err()), kerr)
			}
			if kerr != nil {
				return timeoutf("script %s did not end within %s (%v)", s.Path, took, kerr)
			}
			return timeoutf("script %s did not end within %s", s.Path, took)
		}
	}
	status, sig, err := s.ended(r)
	switch {
	case err != nil:
		return err
	case sig != "":
		return fmt.Errorf("script %s killed by signal %s (normal is exit status %d)", s.Path, sig, s.NormalValue)
	case status != s.NormalValue:
		return fmt.Errorf("script %s exited with status %d (normal is %d)", s.Path, status, s.NormalValue)
	}
	return nil
}

// Watch starts the script once (asynchronous mode): it reports nil once the script runs and
// an error, then returns, when the script ends on its own. When ctx ends first it stops the
// script (SIGTERM, WaitStop, then SIGKILL to everything it started) and returns without
// reporting. A script that cannot start is reported and Watch returns.
func (s *Script) Watch(ctx context.Context, report func(error)) {
	if ctx.Err() != nil {
		return
	}
	r, err := s.start()
	if err != nil {
		report(err)
		return
	}
	defer s.pid.Store(0)
	report(nil)
	select {
	case <-r.done:
		status, sig, err := s.ended(r)
		switch {
		case err != nil:
			report(err)
		case sig != "":
			report(fmt.Errorf("script %s killed by signal %s", s.Path, sig))
		default:
			report(fmt.Errorf("script %s ended with exit status %d", s.Path, status))
		}
	case <-ctx.Done():
		s.stop(r)
	}
}

// stop asks everything the script started to end, waits WaitStop for it to, then kills what
// is left. The leader ending is not enough: its children may still be cleaning up.
func (s *Script) stop(r *run) {
	_ = unix.Kill(-r.pgid, unix.SIGTERM)
	if r.cgroup != "" {
		signalCgroup(r.cgroup, unix.SIGTERM)
	}
	deadline := time.Now().Add(s.WaitStop)
	for time.Now().Before(deadline) && !s.gone(r) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = s.killAll(r)
}

// gone reports whether nothing the script started is left.
func (s *Script) gone(r *run) bool {
	select {
	case <-r.done:
	default:
		return false
	}
	if unix.Kill(-r.pgid, 0) != unix.ESRCH && groupLive(r.pgid) {
		return false
	}
	if r.cgroup != "" {
		if p, err := populated(r.cgroup); err == nil && p {
			return false
		}
	}
	return true
}

// groupLive reports whether a process of process group pgid runs and is not a zombie: where
// init does not reap orphans, a child that outlived the script lingers as a zombie, which kill(0)
// still finds.
func groupLive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := procwatch.Stat("/proc", pid); err == nil && !st.Exited() && st.PGRP == pgid {
			return true
		}
	}
	return false
}

// signalCgroup sends sig to every process of the cgroup at path and below: cgroup v2 has no
// file that signals a whole cgroup with anything but SIGKILL.
func signalCgroup(path string, sig unix.Signal) {
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				_ = unix.Kill(pid, sig)
			}
		}
		return nil
	})
}

// populated reads the cgroup's "populated" line of cgroup.events.
func populated(path string) (bool, error) {
	f, err := os.Open(filepath.Join(path, "cgroup.events"))
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "populated "); ok {
			return v != "0", nil
		}
	}
	return false, fmt.Errorf("%s/cgroup.events has no populated line", path)
}
