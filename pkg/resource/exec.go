package resource

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"clpkit/pkg/procwatch"
)

// wrapper runs the script as its child and records the exit status in a file, so that a daemon
// restarted while the script ran still learns how it ended. It reports the script's pid on fd 3
// (closed for the script itself) because that pid, not the wrapper's, is CLP_PID.
//
// It also frames each run in the log: a header line before the script's output, a footer with
// its pid and how it ended, both starting with LogMark, so an operator reading a resource's log
// sees where each run begins and ends (a run killed at its timeout gets its footer from Wait).
const wrapper = `rc=$1; shift
name=${1##*/}
[ "$1" = /bin/sh ] && name=${2##*/}
echo "--- $(date '+%Y-%m-%d %H:%M:%S' 2>/dev/null) $name started: CLP_EVENT=$CLP_EVENT CLP_FACTOR=$CLP_FACTOR CLP_SERVER=$CLP_SERVER"
"$@" 3>&- &
child=$!
echo $child >&3
exec 3>&-
wait $child
s=$?
echo $s > "$rc"
if [ $s -gt 128 ]; then how="killed by signal $((s-128))"; else how="exit status $s"; fi
echo "--- $(date '+%Y-%m-%d %H:%M:%S' 2>/dev/null) $name ended: pid $child, $how"
exit $s`

// LogMark begins the header and footer lines of each script run in a resource's log.
const LogMark = "--- "

var frameLine = regexp.MustCompile(`(?m)^--- (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d )?\S+ (started|ended): .*\n`)

// ScriptOutput is a resource log without the header and footer lines of its runs: what the
// scripts themselves printed.
func ScriptOutput(log string) string { return frameLine.ReplaceAllString(log, "") }

// Spec is one script run.
type Spec struct {
	Script string
	Env    []string
	// Log receives stdout and stderr, appended.
	Log string
	// RCFile is where the exit status is recorded; it must be unique per resource and action.
	RCFile string
	// Cgroup, when set, is an open cgroup v2 directory the script is cloned straight into, so
	// that it and everything it starts (double-forked daemons included) can be killed at once.
	// CgroupPath is its path, recorded for a restarted daemon.
	Cgroup     *os.File
	CgroupPath string
	// Kill, when set, kills everything the script started (the cgroup); a timeout uses it.
	// Without it a timeout kills the script's process group.
	Kill func()
}

// JobInfo identifies a script run for good, across daemon restarts.
type JobInfo struct {
	// Wrapper is the process group leader; its exit is the script's end.
	Wrapper procwatch.Identity `json:"wrapper"`
	// ScriptPID is the script's own process (CLP_PID for asynchronous starts).
	ScriptPID int    `json:"script_pid"`
	RCFile    string `json:"rc_file"`
	// Cgroup is the cgroup the script runs in; "" when it runs in a process group only.
	Cgroup string `json:"cgroup,omitempty"`
	// Log is the script's log, where Wait writes the footer of a run it killed.
	Log    string `json:"log,omitempty"`
	Script string `json:"script,omitempty"`
}

// Job is a script that runs (or ran) in its own process group.
type Job struct {
	JobInfo

	cmd      *exec.Cmd
	procRoot string
	kill     func()
	// The process is waited for once, by one goroutine; exited closes when it has ended, so any
	// number of callers can wait for it (os/exec allows a single Wait).
	once   sync.Once
	exited chan struct{}
}

// Info is what a restarted daemon needs to adopt the job.
func (j *Job) Info() JobInfo { return j.JobInfo }

// Result is how a script ended.
type Result struct {
	// Code is the exit status; -1 when it is unknown (killed, or the record was lost).
	Code int
	// Killed is true when the script was killed for running past its timeout.
	Killed bool
	// Detail says what went wrong when the resource is not a script (a floating address in use,
	// a disk that would not mount); it is what String shows then.
	Detail string
}

// OK reports a zero exit.
func (r Result) OK() bool { return r.Code == 0 && !r.Killed }

func (r Result) String() string {
	switch {
	case r.Detail != "":
		return r.Detail
	case r.Killed:
		return "killed after timeout"
	case r.Code < 0:
		return "ended with an unknown status"
	default:
		return "exit status " + strconv.Itoa(r.Code)
	}
}

// Spawn starts s: working directory = the script's folder, stdin /dev/null, output appended to
// the log, a new process group. A script without the execute bit is run by /bin/sh, as an
// operator copying scripts around would expect.
func Spawn(procRoot string, s Spec) (*Job, error) {
	logf, err := os.OpenFile(s.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening script log: %w", err)
	}
	defer logf.Close()
	if err := os.Remove(s.RCFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("clearing %s: %w", s.RCFile, err)
	}
	argv := []string{s.Script}
	if fi, err := os.Stat(s.Script); err != nil {
		return nil, fmt.Errorf("script %s: %w", s.Script, err)
	} else if fi.Mode()&0o111 == 0 {
		argv = []string{"/bin/sh", s.Script}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating pid pipe: %w", err)
	}
	defer pr.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", wrapper, "clpkit-exec", s.RCFile}, argv...)...)
	cmd.Dir = filepath.Dir(s.Script)
	cmd.Env = s.Env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.Cgroup != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(s.Cgroup.Fd())
	}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("starting %s: %w", s.Script, err)
	}
	pw.Close()
	j := &Job{cmd: cmd, JobInfo: JobInfo{RCFile: s.RCFile, Cgroup: s.CgroupPath, Log: s.Log, Script: s.Script}, procRoot: procRoot, kill: s.Kill}
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err == nil {
		j.ScriptPID, err = strconv.Atoi(strings.TrimSpace(line))
	}
	if err != nil {
		j.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("starting %s: no pid from the wrapper: %w", s.Script, err)
	}
	id, err := procwatch.Identify(procRoot, cmd.Process.Pid)
	if err != nil {
		// The wrapper may already be gone when the script ended at once; the pid alone still
		// identifies it for Wait, which reaps it as our child.
		id = procwatch.Identity{PID: cmd.Process.Pid}
	}
	j.Wrapper = id
	return j, nil
}

// Adopt makes a job a previous daemon recorded one this daemon can wait for and signal. kill, when
// set, kills everything it started (see Spec.Kill).
func Adopt(procRoot string, info JobInfo, kill func()) *Job {
	return &Job{JobInfo: info, procRoot: procRoot, kill: kill}
}

// watch starts the one wait for the job's end.
func (j *Job) watch() <-chan struct{} {
	j.once.Do(func() {
		j.exited = make(chan struct{})
		go func() {
			defer close(j.exited)
			if j.cmd != nil {
				_ = j.cmd.Wait()
				return
			}
			_ = procwatch.Wait(context.Background(), j.procRoot, j.Wrapper)
		}()
	})
	return j.exited
}

// Running reports whether the job's process group leader still runs.
func (j *Job) Running() bool {
	select {
	case <-j.watch():
		return false
	default:
	}
	if j.cmd == nil {
		// The watcher of an adopted job polls; /proc knows at once.
		return procwatch.Alive(j.procRoot, j.Wrapper)
	}
	return true
}

// Kill kills the job's whole process group: the script and everything it started that did not
// leave the group.
func (j *Job) Kill() {
	if j.Wrapper.PID > 0 || j.cmd != nil {
		pid := j.Wrapper.PID
		if j.cmd != nil {
			pid = j.cmd.Process.Pid
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// Signal sends sig to the job's process group.
func (j *Job) Signal(sig syscall.Signal) {
	pid := j.Wrapper.PID
	if j.cmd != nil {
		pid = j.cmd.Process.Pid
	}
	if pid > 0 {
		_ = syscall.Kill(-pid, sig)
	}
}

// Done is closed when the job's process group leader has ended.
func (j *Job) Done() <-chan struct{} { return j.watch() }

// Wait waits for the job to end. When ctx ends first the whole process group is killed and the
// result says so; Wait still returns only once the group leader is gone.
func (j *Job) Wait(ctx context.Context) Result {
	done := j.watch()
	killed := false
	select {
	case <-done:
	case <-ctx.Done():
		killed = true
		if j.kill != nil {
			j.kill()
		}
		j.Kill()
		<-done
	}
	if killed {
		j.footer("killed at its timeout")
		return Result{Code: -1, Killed: true}
	}
	r, _ := j.Recorded()
	return r
}

// footer ends a run the wrapper could not end (it was killed with the script) in the log.
func (j *Job) footer(how string) {
	if j.Log == "" {
		return
	}
	f, err := os.OpenFile(j.Log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s%s %s ended: pid %d, %s\n", LogMark, time.Now().Format("2006-01-02 15:04:05"), filepath.Base(j.Script), j.ScriptPID, how)
}

// Recorded is how the script ended according to its exit-status file, if it has ended and the
// file was written (a wrapper killed with the script leaves none).
func (i JobInfo) Recorded() (Result, bool) {
	// The path comes from a run record a previous daemon wrote; a damaged one may name anything
	// (/dev/zero): an exit status is a few bytes, so no more is read.
	f, err := os.Open(i.RCFile)
	if err != nil {
		return Result{Code: -1}, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 16))
	if err != nil || len(b) == 16 {
		return Result{Code: -1}, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return Result{Code: -1}, false
	}
	return Result{Code: code}, true
}
