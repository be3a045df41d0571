package disk

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// FsckRun is one fsck run.
type FsckRun struct {
	Args   []string // the command line
	Status int      // exit status: 0 clean, 1 errors corrected, 2 corrected (reboot advised), 4 and up failed
	Output string   // stdout and stderr, trimmed
}

// warning is what an operator should hear of a run that did not fail the mount.
func (r *FsckRun) warning() string {
	if r == nil || r.Status == 0 {
		return ""
	}
	return fmt.Sprintf("%s corrected errors (status %d): %s", strings.Join(r.Args, " "), r.Status, summary(r.Output))
}

// fsck runs "fsck -T -t FSType mode Device" within FsckTimeout and ctx. The error is set when
// fsck could not run, was stopped, or exited with status 4 or more (errors left uncorrected,
// operational error, usage error, cancelled...).
func (d *Disk) fsck(ctx context.Context, mode string) (*FsckRun, error) {
	if d.FsckTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.FsckTimeout)
		defer cancel()
	}
	run := &FsckRun{Args: []string{"fsck", "-T", "-t", d.FSType, mode, d.Device}}
	bin, err := lookSbin("fsck")
	if err != nil {
		return run, fmt.Errorf("running fsck: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, run.Args[1:]...)
	// fsck runs fsck.<type> as its child: a timeout kills the process group, both of them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	run.Output = strings.TrimSpace(string(out))
	what := strings.Join(run.Args, " ")
	if ctx.Err() != nil {
		return run, fmt.Errorf("%s: stopped: %w", what, ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		run.Status = ee.ExitCode()
		if run.Status < 0 {
			return run, fmt.Errorf("%s: %v", what, ee)
		}
	case err != nil:
		return run, fmt.Errorf("%s: %w", what, err)
	}
	if run.Status >= 4 {
		return run, fmt.Errorf("%s exited with status %d: %s", what, run.Status, summary(run.Output))
	}
	return run, nil
}

// lookSbin finds a system program in PATH, or in /usr/sbin and /sbin, which a daemon's PATH
// may lack.
func lookSbin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p, err := exec.LookPath(dir + "/" + name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH, /usr/sbin or /sbin", name)
}

// summary shortens fsck's output for a message: its first two lines, which say what it found
// wrong, and its last, which says how it ended, joined by " / ".
func summary(s string) string {
	var lines []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	switch {
	case len(lines) == 0:
		return "no output"
	case len(lines) > 3:
		lines = append(lines[:2:2], "...", lines[len(lines)-1])
	}
	return strings.Join(lines, " / ")
}
