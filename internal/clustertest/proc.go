package clustertest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Exec runs argv (argv[0] a path, or a name found on PATH) in dir ("" for the test's own) with
// env (nil for the test's) to its end, two minutes at the most, and returns its stdout, stderr
// and exit status. A status other than 0 is the caller's to judge; only a command that could not
// run at all fails tb.
func Exec(tb testing.TB, dir string, env []string, argv ...string) (string, string, int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		tb.Fatalf("running %s: %v", argv[0], err)
	}
	return so.String(), se.String(), cmd.ProcessState.ExitCode()
}

// PIDs lists the processes of the machine, as /proc has them.
func PIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// Proc is a command a test runs in the background.
type Proc struct {
	Cmd  *exec.Cmd
	done chan struct{}
}

// StartProc starts cmd, reaps it when it exits, and kills it when the test ends if it still
// runs then.
func StartProc(tb testing.TB, cmd *exec.Cmd) *Proc {
	tb.Helper()
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		if p.Running() {
			_ = cmd.Process.Kill()
		}
		<-p.done
	})
	return p
}

// Done is closed once the command has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Running reports whether the command has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exit waits up to d for the command to exit and returns its status; it fails tb if the
// command still runs then.
func (p *Proc) Exit(tb testing.TB, d time.Duration) int {
	tb.Helper()
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(d):
		tb.Fatalf("%s (pid %d) still runs after %v", filepath.Base(p.Cmd.Path), p.Cmd.Process.Pid, d)
		return -1
	}
}
