package psaver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// runScript runs a restart script to its end: by its own shebang (the seed's scripts are
// "#! /bin/sh"), in its own folder, stdin from /dev/null, output to out (nil: /dev/null), in a
// process group of its own. When timeout passes or ctx ends (pcheck stops), the whole group is
// killed: a hung script must not outlive the attempt, and a restart must not go on behind a
// pcheck the cluster has stopped. The daemon the script starts normally leaves the group
// (setsid, or simply outlives the script) long before that.
func runScript(ctx context.Context, script string, timeout time.Duration, out *os.File) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, script)
	cmd.Dir = filepath.Dir(script)
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("restart script %s did not end within %s: its process group was killed", script, timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("restart script %s was killed: pcheck is stopping", script)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("restart script %s ended with %s", script, ee.ProcessState)
	}
	return fmt.Errorf("running restart script %s: %w", script, err)
}
